"""``gradguard check`` follows helpers of other workspace modules (with jedi on, the
default), on a folder and on a single file; ``--no-resolve`` uses the file alone."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gradguard.cli import main
from test_result_cache import FINETUNE, HELPERS


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    (root / "lib").mkdir(parents=True)
    (root / "lib" / "__init__.py").write_text("")
    (root / "lib" / "helpers.py").write_text(HELPERS)
    (root / "finetune.py").write_text(FINETUNE.replace("from helpers", "from lib.helpers"))
    (root / "lib" / "loop.py").write_text(
        textwrap.dedent(FINETUNE).replace("from helpers", "from .helpers")
    )
    monkeypatch.setenv("GRADGUARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(root)
    return root


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    main(["check", "--no-cache", "--format", "concise", *args])
    return capsys.readouterr().out


def test_check_on_a_folder_reports_the_helpers_replacement_at_each_call(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _check(capsys, ".")
    assert "finetune.py:8:1: GG102" in out
    assert "`replace_head()` replaces `model.fc` (lib/helpers.py line 5)" in out
    assert "lib/loop.py:8:1: GG102" in out
    assert "helpers.py:" not in out.replace("lib/helpers.py line", "")


def test_check_on_one_file_reads_the_module_it_imports(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "finetune.py:8:1: GG102" in _check(capsys, "finetune.py")


def test_no_resolve_uses_the_file_alone(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "GG102" not in _check(capsys, "--no-resolve", ".")
