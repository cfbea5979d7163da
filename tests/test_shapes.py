"""Whole programs in the shapes real training code takes (issue 11's list), checked the way users
run GradGuard: the CLI (default mode, jedi on, empty caches) and the language server.

Each program in ``tests/shapes/`` marks the lines a finding must start on with
``# expect: GG102`` (several codes: ``# expect: GG102, GG201``); every other line must stay
silent, so the ``...n_*.py`` programs (no marks) are the negative cases of the same shapes.
A shape GradGuard does not find yet is listed in ``NOT_FOUND_YET`` with the reason: its test is
a strict xfail, so it fails the day the shape is found and the entry must go."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

SHAPES = Path(__file__).parent / "shapes"
# A shape is one program, or a folder holding a small workspace (a script and the modules it
# imports: ``o08_workspace_trainer/train.py``); its files are named by their path from here.
PROGRAMS = sorted(p.relative_to(SHAPES).as_posix() for p in SHAPES.glob("**/*.py"))
EXPECT = re.compile(r"#\s*expect:\s*(GG\d{3}(?:\s*,\s*GG\d{3})*)")

#: Programs whose marked finding is not reported yet (file name: what is missing).
NOT_FOUND_YET: dict[str, str] = {
    "s08_grad_of_input_from_numpy.py": (
        "GG301: the catalogue's must-not-flag (`x.grad` read right after a backward that "
        "involves `x`) wins, although the file shows `x` never required grad"
    ),
    "t02_infogan_reset_grad_lists.py": (
        "GG301: which leaves a backward reaches is known per model only; plain tensors in "
        "`G_params + D_params + Q_params` count as given a gradient by any earlier backward"
    ),
    "t26_synthetic_targets_keep_graph.py": (
        "GG507: a tensor with history computed once before the loop (`Y` from a leaf "
        "that requires grad) and backward-ed through in every iteration is not followed"
    ),
}


def expected(name: str) -> Counter[tuple[int, str]]:
    found: Counter[tuple[int, str]] = Counter()
    for number, line in enumerate((SHAPES / name).read_text().splitlines(), start=1):
        if match := EXPECT.search(line):
            found.update((number, code.strip()) for code in match.group(1).split(","))
    return found


def check(folder: Path, *extra: str) -> dict[str, Counter[tuple[int, str]]]:
    """``gradguard check`` as a first-time user runs it: (line, code) per file."""
    env = {**os.environ, "GRADGUARD_CACHE_DIR": str(folder.parent / "cache")}
    proc = subprocess.run(
        [sys.executable, "-m", "gradguard", "check", "--format", "json", *extra, "."],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    found: dict[str, Counter[tuple[int, str]]] = {name: Counter() for name in PROGRAMS}
    for finding in json.loads(proc.stdout)["findings"]:
        found[finding["path"]][(finding["range"]["line"], finding["code"])] += 1
    return found


@pytest.fixture(scope="module")
def programs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("shapes") / "programs"
    shutil.copytree(SHAPES, folder)
    return folder


@pytest.fixture(scope="module")
def cli_findings(programs) -> dict[str, Counter[tuple[int, str]]]:
    return check(programs)


def marks(name: str) -> list[pytest.MarkDecorator]:
    reason = NOT_FOUND_YET.get(name)
    return [pytest.mark.xfail(strict=True, reason=reason)] if reason else []


@pytest.mark.parametrize("name", [pytest.param(n, marks=marks(n)) for n in PROGRAMS])
def test_the_cli_reports_exactly_the_marked_lines(cli_findings, name):
    assert cli_findings[name] == expected(name)


def test_every_program_is_a_real_shape():
    """Sanity of the corpus itself: each program parses, and each positive program is marked."""
    for name in PROGRAMS:
        ast.parse((SHAPES / name).read_text(), name)
    for shape in {name.split("/")[0] for name in PROGRAMS}:
        negative = re.match(r"[srot]\d+[a-z]?n_", shape) is not None
        marked = any(expected(n) for n in PROGRAMS if n.split("/")[0] == shape)
        assert negative == (not marked), shape
    assert set(NOT_FOUND_YET) <= set(PROGRAMS)


def test_fixes_remove_their_findings_and_add_none(programs, tmp_path):
    """``--fix --unsafe-fixes`` over every program: each result parses, and no finding appears
    that the program did not have (codes counted per file, since lines move)."""
    fixed = tmp_path / "programs"
    shutil.copytree(programs, fixed)
    before = check(fixed)
    subprocess.run(
        [sys.executable, "-m", "gradguard", "check", "--fix", "--unsafe-fixes", "-q", "."],
        cwd=fixed,
        env={**os.environ, "GRADGUARD_CACHE_DIR": str(tmp_path / "cache")},
        capture_output=True,
        timeout=600,
    )
    after = check(fixed)
    for name in PROGRAMS:
        ast.parse((fixed / name).read_text(), name)
        codes_before = Counter(code for _, code in before[name].elements())
        codes_after = Counter(code for _, code in after[name].elements())
        assert not codes_after - codes_before, (name, codes_before, codes_after)
