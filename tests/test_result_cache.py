"""The per-file result cache of ``gradguard check``: a rerun reads what it kept, and
never what a changed file, module, configuration or GradGuard would no longer give."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gradguard import result_cache
from gradguard.cli import analyse, main
from test_cache_paths import BIGGER, MODELS

TRAINER = textwrap.dedent(
    """\
    import torch


    def train_one_epoch(model, loader, lr):
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        for batch, target in loader:
            loss = torch.nn.functional.mse_loss(model(batch), target)
            loss.backward()
            optimizer.step()
    """
)
FIXED_TRAINER = TRAINER.replace(
    "        loss.backward()", "        optimizer.zero_grad()\n        loss.backward()"
)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("GRADGUARD_CACHE_DIR", str(directory))
    return directory


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "trainer.py").write_text(TRAINER)
    monkeypatch.chdir(root)
    return root


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    main(["check", "--no-resolve", "--format", "concise", *args, "."])
    return capsys.readouterr().out


def _analyses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the engine analyses from now on."""
    seen: list[str] = []
    real = analyse.analyze

    def counting(text: str, path: str, **kwargs: object):  # type: ignore[no-untyped-def]
        seen.append(Path(path).name)
        return real(text, path, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(analyse, "analyze", counting)
    return seen


def test_a_rerun_of_an_unchanged_file_reads_its_findings_without_analysing_it(
    project: Path, cache: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _check(capsys)
    assert "GG" in first
    analysed = _analyses(monkeypatch)
    assert _check(capsys) == first
    assert analysed == []
    assert (cache / result_cache.FILE_NAME).is_file()


def test_a_changed_file_is_analysed_again(
    project: Path, cache: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _check(capsys)
    (project / "trainer.py").write_text(FIXED_TRAINER)
    analysed = _analyses(monkeypatch)
    after = _check(capsys)
    assert analysed == ["trainer.py"]
    assert after != before
    assert after == _check(capsys, "--no-cache")


def test_a_changed_configuration_is_not_answered_from_the_cache(
    project: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _check(capsys)
    code = before.split(": ")[1].split()[0]
    (project / "gradguard.toml").write_text(f'ignore = ["{code}"]\n')
    after = _check(capsys)
    assert code in before and code not in after
    assert after == _check(capsys, "--no-cache")


def test_command_line_selection_is_part_of_the_key(
    project: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _check(capsys)
    code = before.split(": ")[1].split()[0]
    assert code not in _check(capsys, "--ignore", code)
    assert _check(capsys) == before


def test_a_new_gradguard_does_not_read_an_older_ones_results(
    project: Path, cache: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _check(capsys)
    monkeypatch.setattr(result_cache, "code_fingerprint", lambda: "another gradguard")
    analysed = _analyses(monkeypatch)
    _check(capsys)
    assert analysed == ["trainer.py"]


def test_the_fingerprint_changes_with_the_version_and_with_a_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result_cache.code_fingerprint.cache_clear()
    before = result_cache.code_fingerprint()
    monkeypatch.setattr(result_cache, "__version__", "999.0")
    result_cache.code_fingerprint.cache_clear()
    assert result_cache.code_fingerprint() != before
    result_cache.code_fingerprint.cache_clear()


def test_the_fingerprint_changes_with_any_module_of_the_package(tmp_path: Path) -> None:
    (tmp_path / "rules" / "__pycache__").mkdir(parents=True)
    (tmp_path / "engine.py").write_text("x = 1\n")
    (tmp_path / "rules" / "gg999_new.py").write_text("RULE = None\n")
    before = result_cache.package_fingerprint(str(tmp_path), "1.0")
    (tmp_path / "rules" / "__pycache__" / "gg999_new.cpython-311.pyc").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a module")
    assert result_cache.package_fingerprint(str(tmp_path), "1.0") == before
    (tmp_path / "rules" / "gg999_new.py").write_text("RULE = 1\n")  # a module below the top
    edited = result_cache.package_fingerprint(str(tmp_path), "1.0")
    assert edited != before
    (tmp_path / "rules" / "gg998_added.py").write_text("")
    assert result_cache.package_fingerprint(str(tmp_path), "1.0") not in (before, edited)


def test_no_cache_neither_reads_nor_writes(
    project: Path, cache: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _check(capsys, "--no-cache")
    assert not (cache / result_cache.FILE_NAME).exists()
    _check(capsys)
    analysed = _analyses(monkeypatch)
    _check(capsys, "--no-cache")
    assert analysed == ["trainer.py"]


def test_fix_bypasses_the_cache_and_the_next_run_sees_the_fixed_file(
    project: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _check(capsys)
    main(["check", "--no-resolve", "--fix", "--unsafe-fixes", "."])
    capsys.readouterr()
    assert _check(capsys) == _check(capsys, "--no-cache")


def test_corrupt_entries_are_ignored_and_rewritten(
    project: Path, cache: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _check(capsys)
    with sqlite3.connect(cache / result_cache.FILE_NAME) as connection:
        connection.execute("UPDATE results SET outcome = substr(outcome, 1, 20)")
    analysed = _analyses(monkeypatch)
    assert _check(capsys) == first
    assert analysed == ["trainer.py"]
    assert _check(capsys) == first
    assert analysed == ["trainer.py"]  # rewritten: the third run read it


def test_a_damaged_store_file_never_fails_a_run(
    project: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _check(capsys)
    store = cache / result_cache.FILE_NAME
    main(["clean", "--quiet"])
    store.write_bytes(b"SQLite format 3\x00" + b"\xff" * 300)
    assert _check(capsys) == first


def test_clean_empties_the_cache(
    project: Path, cache: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _check(capsys)
    assert main(["clean"]) == 0
    assert "Removing cache at" in capsys.readouterr().out
    assert not (cache / result_cache.FILE_NAME).exists()
    analysed = _analyses(monkeypatch)
    _check(capsys)
    assert analysed == ["trainer.py"]


def test_the_store_is_culled_to_its_size_limit(tmp_path: Path) -> None:
    store = result_cache.ResultCache(tmp_path, max_bytes=40_000)
    for number in range(300):
        store.put(f"key{number}", result_cache.Entry("x" * 1000))
    store.cull()
    with sqlite3.connect(store.path) as connection:
        (total,) = connection.execute("SELECT SUM(size) FROM results").fetchone()
    assert total <= 40_000
    assert store.get("key299") == "x" * 1000  # the newest stay
    assert store.get("key0") is None


def _subprocess_check(root: Path, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "XDG_CACHE_HOME"}
    env.update(HOME=str(root.parent / "home"), GRADGUARD_CACHE_DIR=str(cache))
    return subprocess.run(
        [sys.executable, "-m", "gradguard", "check", "--format", "concise", *args, "."],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _touch_later(path: Path) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))


def test_an_edited_imported_module_rechecks_the_files_whose_answers_came_from_it(
    tmp_path: Path,
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "models.py").write_text(MODELS)
    (root / "bigger.py").write_text(BIGGER)
    cache = tmp_path / "cache"
    first = _subprocess_check(root, cache)
    assert "bigger.py:5:9: GG204" in first.stdout, first.stderr
    assert _subprocess_check(root, cache).stdout == first.stdout
    # Net is no longer a Module: Bigger._init_ is no longer a misspelled __init__.
    (root / "models.py").write_text(MODELS.replace("(nn.Module)", ""))
    _touch_later(root / "models.py")
    after = _subprocess_check(root, cache)
    assert "GG204" not in after.stdout, after.stdout


HELPERS = textwrap.dedent(
    """\
    from torch import nn


    def replace_head(model):
        model.fc = nn.Linear(4, 3)
    """
)
FINETUNE = textwrap.dedent(
    """\
    import torch
    from torch import nn

    from helpers import replace_head

    model = nn.Sequential(nn.Linear(4, 4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    replace_head(model)
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.randn(2, 4)).sum().backward()
        optimizer.step()
    """
)


def test_an_edited_helper_module_rechecks_the_files_that_call_it(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "helpers.py").write_text(HELPERS)
    (root / "finetune.py").write_text(FINETUNE)
    cache = tmp_path / "cache"
    first = _subprocess_check(root, cache)
    assert "finetune.py:8:1: GG102" in first.stdout, first.stderr
    assert _subprocess_check(root, cache).stdout == first.stdout
    # The helper no longer replaces the head: the call site is no longer a finding.
    (root / "helpers.py").write_text(HELPERS.replace("model.fc = nn.Linear(4, 3)", "print(model)"))
    _touch_later(root / "helpers.py")
    assert "GG102" not in _subprocess_check(root, cache).stdout


def test_a_helper_module_added_later_rechecks_the_files_that_import_it(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "scripts").mkdir(parents=True)
    (root / "scripts" / "finetune.py").write_text(FINETUNE)
    cache = tmp_path / "cache"
    assert "GG102" not in _subprocess_check(root, cache).stdout
    (root / "scripts" / "helpers.py").write_text(HELPERS)  # next to the script
    _touch_later(root / "scripts")
    assert "finetune.py:8:1: GG102" in _subprocess_check(root, cache).stdout


def test_two_runs_at_once_share_the_cache(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    for number in range(40):  # enough files for worker processes
        (root / f"trainer_{number}.py").write_text(TRAINER.replace("lr)", f"lr={number})", 1))
    cache = tmp_path / "cache"
    expected = _subprocess_check(root, tmp_path / "other", "--no-cache", "--no-resolve").stdout
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "gradguard", "check", "--no-resolve", "-j", "2", "."],
            cwd=root,
            env={**os.environ, "GRADGUARD_CACHE_DIR": str(cache)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=600) for run in runs]
    for out, err in outputs:
        assert out == expected
        assert "Traceback" not in err and "not kept" not in err
    with sqlite3.connect(cache / result_cache.FILE_NAME) as connection:
        (count,) = connection.execute("SELECT COUNT(*) FROM results").fetchone()
    assert count == 40
    assert _subprocess_check(root, cache, "--no-resolve").stdout == expected


def test_clean_removes_only_what_gradguard_keeps(
    cache: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (cache / "jedi").mkdir(parents=True)
    (cache / "answers-v2.sqlite3").write_bytes(b"")
    (cache / "someone-elses.txt").write_text("kept")  # the directory may be shared
    assert main(["clean"]) == 0
    assert sorted(p.name for p in cache.iterdir()) == ["someone-elses.txt"]
    monkeypatch.setenv("GRADGUARD_CACHE_DIR", "off")
    assert main(["clean"]) == 0
    assert "the cache is off" in capsys.readouterr().out
