"""Where ``gradguard check`` keeps its caches (gradguard.cache_paths), and bad caches.

Each run is a real ``python -m gradguard check`` process with an empty ``$HOME``;
the finding below needs jedi (the base class is imported), so a cache that broke
jedi would change the output.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

MODELS = textwrap.dedent(
    """\
    from torch import nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)
    """
)
BIGGER = textwrap.dedent(
    """\
    from models import Net


    class Bigger(Net):
        def _init_(self):
            super().__init__()
    """
)
EXPECTED = "bigger.py:5:9: GG204 [misspelled-init]"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "models.py").write_text(MODELS)
    (root / "bigger.py").write_text(BIGGER)
    return root


def _check(project: Path, home: Path, cache: Path | str, *args: str) -> tuple[int, str, str]:
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "XDG_CACHE_HOME"}
    env.update(HOME=str(home), GRADGUARD_CACHE_DIR=str(cache))
    done = subprocess.run(
        [sys.executable, "-m", "gradguard", "check", *args, "."],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


def test_nothing_is_written_under_home_and_jedi_caches_in_the_cache_dir(project, tmp_path):
    home, cache = tmp_path / "home", tmp_path / "cache"
    code, out, err = _check(project, home, cache)
    assert (code, out.startswith(EXPECTED)) == (1, True), err
    assert _files(home) == []
    assert (cache / "answers-v2.sqlite3").exists()
    assert list((cache / "jedi").rglob("*.pkl")), _files(cache)  # parso's trees, via jedi


def test_no_cache_writes_nothing_anywhere(project, tmp_path):
    home, cache = tmp_path / "home", tmp_path / "cache"
    cache.mkdir()
    code, out, err = _check(project, home, cache, "--no-cache")
    assert (code, out.startswith(EXPECTED)) == (1, True), err
    assert _files(home) == [] and _files(cache) == []


def test_corrupt_and_truncated_entries_do_not_change_the_run(project, tmp_path):
    home, cache = tmp_path / "home", tmp_path / "cache"
    first = _check(project, home, cache)
    entries = list(cache.rglob("*.pkl"))
    assert entries
    for n, entry in enumerate(entries):  # truncated, garbage, empty in turn
        data = entry.read_bytes()
        entry.write_bytes([data[:20], b"\x80\x05garbage" * 50, b""][n % 3])
    (cache / "answers-v2.sqlite3").write_bytes(b"not a database" * 100)
    for name in ("answers-v2.sqlite3-wal", "answers-v2.sqlite3-shm"):
        (cache / name).unlink(missing_ok=True)
    # Without the kept results, so that the files are analysed and jedi asked again.
    for name in ("results-v1.sqlite3", "results-v1.sqlite3-wal", "results-v1.sqlite3-shm"):
        (cache / name).unlink(missing_ok=True)
    code, out, err = _check(project, home, cache)
    assert (code, out) == first[:2], err
    assert "Traceback" not in err
    assert "jedi answers are not kept on disk" in err  # the damaged database, said once


def test_an_unwritable_cache_directory_does_not_change_the_run(project, tmp_path):
    # The tests run as root, for whom permissions do not bind: a path below a regular
    # file cannot be created by anyone, as a read-only directory cannot by a user.
    home, blocker = tmp_path / "home", tmp_path / "a-file"
    blocker.write_text("")
    expected = _check(project, home, tmp_path / "cache")
    code, out, err = _check(project, home, blocker / "cache")
    assert (code, out) == expected[:2], err
    assert "Traceback" not in err
    assert _files(home) == []
