"""Batch throughput: ``gradguard check`` against TorchFix, ruff and a bare ``ast.parse``
pass over the same files; and how ``gradguard`` scales with file size and file count."""

from __future__ import annotations

import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, median_measurement, run_measured
from benchmarks.corpus import FileSet
from benchmarks.scripts import training_script

NEVER = "__gradguard_benchmark_excludes_nothing__"


def environment(answers: Path | None = None) -> dict[str, str]:
    """The environment of a measured command; ``answers``: where gradguard keeps jedi's
    answers (by default a fresh directory per command: every run starts cold)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("GRADGUARD_LOG_LEVEL", None)
    env["GRADGUARD_CACHE_DIR"] = str(answers or tempfile.mkdtemp(prefix="gradguard-answers-"))
    return env


def gradguard(root: Path, jobs: int, resolve: bool) -> list[str]:
    command = [sys.executable, "-m", "gradguard", "check", "--jobs", str(jobs), str(root)]
    return command if resolve else [*command, "--no-resolve"]


def ruff(root: Path, select_all: bool) -> list[str]:
    command = [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", "--exit-zero"]
    command += ["--exclude", NEVER, "--quiet", str(root)]
    return [*command, "--select", "ALL"] if select_all else command


def ast_floor(root: Path, jobs: int) -> list[str]:
    return [sys.executable, "-m", "benchmarks.ast_floor", "--jobs", str(jobs), str(root)]


def torchfix(executable: Path, root: Path, jobs: int) -> list[str]:
    return [str(executable), "--jobs", str(jobs), str(root)]


def measure(
    command: list[str], repeat: int, cwd: Path, *, keep_answers: bool = False
) -> dict[str, Any]:
    """Median of ``repeat`` runs, each with no jedi answers kept from before; with
    ``keep_answers``, after one unmeasured run that leaves its answers on disk."""
    answers = Path(tempfile.mkdtemp(prefix="gradguard-answers-")) if keep_answers else None
    if answers is not None:
        run_measured(command, cwd=cwd, env=environment(answers))
    runs = [run_measured(command, cwd=cwd, env=environment(answers)) for _ in range(repeat)]
    best = median_measurement(runs)
    return {
        "wall": best.wall,
        "cpu": best.cpu,
        "rss": best.max_rss_mib,
        "returncode": best.returncode,
        "runs": len(runs),
        "walls": [r.wall for r in runs],
    }


def ruff_file_count(root: Path) -> int:
    done = subprocess.run(
        [*ruff(root, False)[:-2], "--show-files", str(root)],
        capture_output=True,
        text=True,
        env=environment(),
    )
    return sum(1 for line in done.stdout.splitlines() if line.strip().endswith(".py"))


def gradguard_file_count(root: Path) -> int:
    from gradguard import files

    return sum(1 for _ in files.discover([root], lambda _d: _default_config()))


def _default_config() -> Any:
    from gradguard.config import Config

    return Config()


def throughput(
    file_set: FileSet,
    work: Path,
    *,
    repeat: int,
    resolve_repeat: int,
    jobs: tuple[int, ...] = (1, 2),
    include_ruff: bool = True,
    resolve: bool = True,
) -> dict[str, Any]:
    """Every tool over one file set; medians of ``repeat`` runs (``resolve_repeat`` for
    gradguard with jedi, which is much slower)."""
    root = file_set.root
    rows: dict[str, dict[str, Any]] = {}
    for n in jobs:
        rows[f"ast.parse, {n} process{'es' if n > 1 else ''}"] = measure(
            ast_floor(root, n), repeat, work
        )
        rows[f"gradguard check --no-resolve --jobs {n}"] = measure(
            gradguard(root, n, False), repeat, work
        )
        if resolve and resolve_repeat:
            rows[f"gradguard check --jobs {n} (jedi)"] = measure(
                gradguard(root, n, True), resolve_repeat, work
            )
    if include_ruff:
        rows["ruff check (default rules)"] = measure(ruff(root, False), repeat, work)
        rows["ruff check --select ALL"] = measure(ruff(root, True), repeat, work)
    counts = {"gradguard": gradguard_file_count(root)}
    if include_ruff:
        counts["ruff"] = ruff_file_count(root)
    return {"files": file_set.count, "lines": file_set.lines, "rows": rows, "seen": counts}


def torchfix_comparison(
    file_set: FileSet, executable: Path, work: Path, *, repeat: int
) -> dict[str, Any]:
    """TorchFix (slow: about 300 lines per CPU-second) and gradguard on the same subset."""
    root = file_set.root
    rows = {
        "torchfix --jobs 2": measure(torchfix(executable, root, 2), 1, work),
        "gradguard check --no-resolve --jobs 2": measure(gradguard(root, 2, False), repeat, work),
        "gradguard check --jobs 2 (jedi)": measure(gradguard(root, 2, True), repeat, work),
        "gradguard check --jobs 2 (jedi, answers kept from a run before)": measure(
            gradguard(root, 2, True), repeat, work, keep_answers=True
        ),
        "gradguard check --no-resolve --jobs 1": measure(gradguard(root, 1, False), repeat, work),
        "ast.parse, 2 processes": measure(ast_floor(root, 2), repeat, work),
    }
    return {"files": file_set.count, "lines": file_set.lines, "rows": rows}


# -- scaling --------------------------------------------------------------------------


def fit_power(xs: list[float], ys: list[float]) -> float:
    """Exponent b of y = a * x**b (least squares in log-log): 1 is linear."""
    lx = [math.log(x) for x in xs]
    ly = [math.log(max(y, 1e-9)) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    num = sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True))
    den = sum((a - mx) ** 2 for a in lx)
    return num / den if den else float("nan")


def scaling_by_size(sizes: list[int], repeat: int) -> dict[str, Any]:
    """In-process CPU time of one ``analyze`` and one ``ast.parse`` per script size."""
    import ast

    from gradguard.engine import analyze

    rows = []
    for size in sizes:
        text = training_script(size)
        analyse_times, parse_times = [], []
        for _ in range(repeat):
            started = time.process_time()
            analyze(text, "train.py")
            analyse_times.append(time.process_time() - started)
            started = time.process_time()
            ast.parse(text)
            parse_times.append(time.process_time() - started)
        rows.append(
            {
                "lines": text.count("\n"),
                "analyze_ms": statistics.median(analyse_times) * 1000,
                "parse_ms": statistics.median(parse_times) * 1000,
            }
        )
    exponent = fit_power([r["lines"] for r in rows], [r["analyze_ms"] for r in rows])
    return {"rows": rows, "exponent": exponent}


def scaling_by_count(source: FileSet, work: Path, counts: list[int], repeat: int) -> dict[str, Any]:
    """``gradguard check --jobs 1 --no-resolve`` over the first N files of a spread of
    ``source`` (process start included)."""
    files = list(source.files)
    rows = []
    for count in counts:
        if count > len(files):
            continue
        step = len(files) / count
        chosen = [files[int(i * step)] for i in range(count)]
        root = work / "trees" / f"count-{count}"
        if root.exists():
            shutil.rmtree(root)
        for path in chosen:
            target = root / path.relative_to(source.root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        lines = sum(p.read_bytes().count(b"\n") for p in chosen)
        result = measure(gradguard(root, 1, False), repeat, work)
        rows.append({"files": count, "lines": lines, "wall": result["wall"], "cpu": result["cpu"]})
    exponent = fit_power([r["files"] for r in rows], [r["cpu"] for r in rows]) if rows else 0.0
    per_line = fit_power([r["lines"] for r in rows], [r["cpu"] for r in rows]) if rows else 0.0
    return {"rows": rows, "exponent_files": exponent, "exponent_lines": per_line}


def whole_package(root: Path, work: Path) -> dict[str, Any]:
    """``gradguard check`` over a whole package: does it complete, and which internal
    errors does it report (verbatim)."""
    started = time.perf_counter()
    done = subprocess.run(
        [*gradguard(root, 2, False), "--statistics"],
        cwd=work,
        env=environment(),
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    notices = [
        line
        for line in done.stderr.splitlines()
        if "internal error" in line or "Traceback" in line or "skipped" in line
    ]
    return {
        "returncode": done.returncode,
        "wall": wall,
        "notices": notices,
        "statistics": done.stdout.strip().splitlines(),
        "crashed": done.returncode not in (0, 1),
    }
