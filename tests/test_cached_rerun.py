"""A rerun answered by the result cache in the parent process: the same report and exit
status as the run that filled it, in every format, without importing the analysis or
starting a worker; a kept file whose imported module changed is analysed again."""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gradguard import result_cache
from gradguard.format_names import FORMAT_NAMES
from test_cache_paths import BIGGER, MODELS
from test_cli_notebooks import notebook_text
from test_result_cache import FINETUNE, HELPERS, TRAINER

#: What only analysing a file needs; an all-hit run loads none of it.
ANALYSING = (
    "gradguard.engine",
    "gradguard.cli.analyse",
    "gradguard.runner",
    "gradguard.resolver",
    "jedi",
    "parso",
    "multiprocessing",
    "concurrent.futures",
)
#: The rules and what they import: SARIF's rule table needs them, no other format does.
RULES = ("gradguard.rules", "gradguard.analysis", "gradguard.semantic")
#: Printed by the driver below to this file, after the report.
LOADED = "loaded-modules.json"
DRIVER = textwrap.dedent(
    f"""\
    import json, sys
    from gradguard.cli import main

    status = main(sys.argv[1:])
    with open({LOADED!r}, "w") as out:
        json.dump(sorted(sys.modules), out)
    sys.exit(status)
    """
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Findings with fixes, a notebook, a syntax error, an undecodable file, a malformed
    noqa, a clean file and a module imported by another."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "trainer.py").write_text(TRAINER)
    (root / "train.ipynb").write_text(notebook_text(), encoding="utf-8")
    (root / "broken.py").write_text("def f(:\n    pass\n")
    (root / "latin.py").write_bytes(b"x = '\xe9'\n")
    (root / "noqa.py").write_text(TRAINER.replace("lr=lr)", "lr=lr)  # noqa GG999", 1))
    (root / "clean.py").write_text("import torch\n\nx = torch.zeros(2)\n")
    (root / "models.py").write_text(MODELS)
    (root / "bigger.py").write_text(BIGGER)
    return root


def _run(root: Path, *args: str) -> tuple[int, str, str, list[str]]:
    """``gradguard check ARGS .`` in a process of its own: its status, stdout, stderr
    and the modules it had loaded at the end."""
    env = {k: v for k, v in os.environ.items() if k != "XDG_CACHE_HOME"}
    env.update(HOME=str(root.parent / "home"), GRADGUARD_CACHE_DIR=str(root.parent / "cache"))
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, "check", *args, "."],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "Traceback" not in done.stderr, done.stderr
    loaded = json.loads((root / LOADED).read_text())
    (root / LOADED).unlink()
    return done.returncode, done.stdout, done.stderr, loaded


def _loaded(modules: list[str], prefixes: tuple[str, ...]) -> list[str]:
    return [m for m in modules if m.startswith(prefixes)]


@pytest.mark.parametrize("format_", FORMAT_NAMES)
def test_an_all_hit_rerun_prints_the_first_runs_report_byte_for_byte(project, format_):
    first = _run(project, "--no-resolve", "--format", format_)
    assert first[0] == 1 and first[1], first  # findings, a syntax error: status 1
    assert "GG999" in first[2]  # the noqa warning
    if format_ == "concise":  # the files not analysed are part of the report
        assert "cannot decode" in first[1] and "broken.py:1:7" in first[1]
    again = _run(project, "--no-resolve", "--format", format_)
    assert again[:3] == first[:3]
    assert _loaded(again[3], ANALYSING) == []
    if format_ != "sarif":  # SARIF's rule table lists every rule, with its page
        assert _loaded(again[3], RULES) == []


def test_with_jedi_an_all_hit_rerun_imports_neither_jedi_nor_the_rules(project):
    first = _run(project, "--format", "concise")
    assert "bigger.py:5:9: GG204" in first[1], first
    assert any(m.startswith("jedi") for m in first[3])  # the first run asked jedi
    again = _run(project, "--format", "concise")
    assert again[:3] == first[:3]
    assert _loaded(again[3], ANALYSING + RULES) == []


def _stored(cache: Path) -> dict[str, float]:
    """When each kept outcome was written, by the path of its file."""
    with sqlite3.connect(cache / result_cache.FILE_NAME) as connection:
        rows = connection.execute("SELECT outcome, stored FROM results").fetchall()
    return {pickle.loads(blob).report.path: stored for blob, stored in rows}


def _touch_later(path: Path) -> None:
    status = path.stat()
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 10**9))


def test_a_kept_file_whose_imported_class_changed_is_the_one_miss(project):
    first = _run(project, "--format", "concise")
    before = _stored(project.parent / "cache")
    # Net is no longer a Module: Bigger._init_ is no longer a misspelled __init__.
    (project / "models.py").write_text(MODELS.replace("(nn.Module)", ""))
    _touch_later(project / "models.py")
    after_edit = _run(project, "--format", "concise")
    assert "bigger.py:5:9: GG204" in first[1] and "bigger.py" not in after_edit[1]
    after = _stored(project.parent / "cache")
    rewritten = sorted(Path(p).name for p in after if after[p] != before.get(p))
    assert rewritten == ["bigger.py", "models.py"]  # the edited file and its importer
    # Two misses, analysed in the parent: no worker process was started.
    assert not any(m.startswith("multiprocessing") for m in after_edit[3])


def test_a_kept_file_whose_helper_module_changed_is_analysed_again(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    (root / "helpers.py").write_text(HELPERS)
    (root / "finetune.py").write_text(FINETUNE)
    (root / "other.py").write_text(TRAINER)
    assert "finetune.py:8:1: GG102" in _run(root, "--format", "concise")[1]
    before = _stored(tmp_path / "cache")
    (root / "helpers.py").write_text(HELPERS.replace("model.fc = nn.Linear(4, 3)", "print(model)"))
    _touch_later(root / "helpers.py")
    assert "GG102" not in _run(root, "--format", "concise")[1]
    after = _stored(tmp_path / "cache")
    assert sorted(Path(p).name for p in after if after[p] != before[p]) == [
        "finetune.py",
        "helpers.py",
    ]
