"""Keeps the benchmark scripts alive: ``python -m benchmarks.run --smoke`` in a temp dir.

Not a timed test: it only checks that the smoke run completes and writes every section.
It needs no network (examples/ and the installed torch sources only).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="the smoke corpus is torch's own sources"
)


def test_smoke_run_writes_the_report(tmp_path: Path) -> None:
    output = tmp_path / "benchmarks.md"
    raw = tmp_path / "data.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--smoke",
            "--work",
            str(tmp_path / "work"),
            "--output",
            str(output),
            "--json",
            str(raw),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = output.read_text()
    for heading in (
        "## Machine and versions",
        "## Budgets",
        "## Corpus",
        "## Batch throughput",
        "## Editor latency",
        "## Scaling",
        "## Where the time goes",
        "over the whole installed torch package",
    ):
        assert heading in report
    data = json.loads(raw.read_text())
    assert data["corpus"]["examples"]["files"] == len(list((REPO / "examples").glob("*.py")))
    rows = data["throughput"]["torch"]["rows"]
    assert rows["gradguard check --no-resolve --jobs 1"]["returncode"] in (0, 1)
    assert data["throughput"]["torch"]["seen"]["gradguard"] == data["corpus"]["torch"]["files"]
    assert data["editor"]["sessions"]["200"]["change"]["n"] == 2
    assert not data["whole_package"]["crashed"]


def test_golden_output_lists_every_finding_and_fix(tmp_path: Path) -> None:
    # The harness that proves a speed change left the analysis as it was: one line per
    # finding and per fix, in a stable order (two runs agree byte for byte).
    from gradguard.engine import analyze

    examples = REPO / "examples"
    outputs = []
    for run in ("first", "second"):
        output = tmp_path / f"{run}.txt"
        subprocess.run(
            [sys.executable, "-m", "benchmarks.golden", str(output), str(examples)],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        outputs.append(output.read_text(encoding="utf-8"))
    assert outputs[0] == outputs[1]
    results = [analyze(p.read_text(), str(p)) for p in sorted(examples.glob("*.py"))]
    lines = outputs[0].splitlines()
    assert sum(not line.startswith("  FIX ") for line in lines) == sum(
        len(r.findings) for r in results
    )
    assert sum(line.startswith("  FIX ") for line in lines) == sum(
        len(f.fixes) for r in results for f in r.findings
    )
