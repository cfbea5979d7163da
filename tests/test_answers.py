"""jedi's answers on disk (gradguard.answers)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from gradguard.answers import AnswerStore
from gradguard.cache_paths import cache_directory


def test_answers_round_trip_and_are_shared_by_every_store_on_the_file(tmp_path: Path) -> None:
    first = AnswerStore(tmp_path)
    assert first.get("k") is None
    first.put(
        "k", ("module_class", "pkg.Net (class)", [("/src/pkg.py", 123), ("/gone", None)], None)
    )
    other = AnswerStore(tmp_path)  # another process, say
    assert other.get("k") == (
        "module_class",
        "pkg.Net (class)",
        [("/src/pkg.py", 123), ("/gone", None)],
        None,
    )
    other.put("k", ("other", None, [], None))
    assert first.get("k") == ("other", None, [], None)
    first.put("unknown", ("", None, [], time.time() - 1))  # expired: as if never kept
    assert other.get("unknown") is None
    first.close()
    other.close()


def test_a_damaged_file_switches_the_store_off_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "answers-v2.sqlite3").write_bytes(b"this is not a database" * 100)
    store = AnswerStore(tmp_path)
    with caplog.at_level(logging.WARNING, logger="gradguard.answers"):
        assert store.get("k") is None
        store.put("k", ("other", None, [], None))
        assert store.get("k") is None
    warnings = [r for r in caplog.records if "not kept on disk" in r.getMessage()]
    assert len(warnings) == 1 and "answers-v2.sqlite3" in warnings[0].getMessage()


def test_an_unwritable_directory_switches_the_store_off(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    store = AnswerStore(blocker / "cache")  # a directory cannot be made inside a file
    store.put("k", ("other", None, [], None))
    assert store.get("k") is None


def test_where_answers_go(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GRADGUARD_CACHE_DIR", str(tmp_path / "here"))
    assert cache_directory() == tmp_path / "here"
    monkeypatch.setenv("GRADGUARD_CACHE_DIR", "off")
    assert cache_directory() is None and AnswerStore.default() is None
    monkeypatch.delenv("GRADGUARD_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_directory() == tmp_path / "xdg" / "gradguard"
