"""Where GradGuard, jedi and parso keep their caches on disk, and how a bad cache is survived.

One directory holds them all: ``$GRADGUARD_CACHE_DIR``, else
``$XDG_CACHE_HOME/gradguard``, else ``~/.cache/gradguard``. GradGuard's jedi answers
are ``answers-v2.sqlite3`` there (:mod:`gradguard.answers`); jedi's cache is
``jedi/`` (jedi hands it to parso for the parse trees it pickles) and parso's own
default is ``parso/``, instead of ``~/.cache/jedi`` and ``~/.cache/parso``.
``GRADGUARD_CACHE_DIR=off`` or ``gradguard check --no-cache``: nothing is read from
or written to disk by any of them.

A cache never fails a run. parso writes its entries in place, so a process reading an
entry another one is writing (``check --jobs 2``) unpickled a truncated file and the
jedi query failed (``EOFError: Ran out of input``); entries are now written to a
temporary file and renamed into place, an entry that cannot be read for any reason
(truncated, corrupt, from another parso) counts as a miss and is rewritten, and a
directory that cannot be written (read-only, full, not a directory) turns parso's disk
cache off with one warning: the analysis only gets slower.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_OFF = ("", "off", "0", "false")


def cache_directory() -> Path | None:
    """The cache directory; None when switched off (``GRADGUARD_CACHE_DIR=off``)."""
    configured = os.environ.get("GRADGUARD_CACHE_DIR")
    if configured is not None:
        return None if configured.strip().lower() in _OFF else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gradguard"


class _LibraryCaches:
    """The directory jedi and parso use (None: no disk cache), set once per process
    by :func:`use_for_libraries` or, failing that, by :func:`install`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.installed = False
        self.chosen = False
        self.directory: Path | None = None
        self.writable = True


_state = _LibraryCaches()


def use_for_libraries(directory: Path | None) -> None:
    """Point jedi's and parso's disk caches into ``directory``; None: no disk cache.
    Applied when jedi starts (:func:`install`), at once if it has: a run that asks jedi
    nothing never imports it."""
    with _state.lock:
        _state.chosen = True
        _state.directory, _state.writable = directory, True
        if _state.installed:
            _apply(directory)


def install() -> None:
    """Make parso's disk cache safe to share and to lose (idempotent); unless
    :func:`use_for_libraries` was called, use :func:`cache_directory`."""
    with _state.lock:
        if _state.installed:
            return
        _wrap_parso_disk_cache()
        _state.installed = True
        if not _state.chosen:
            _state.chosen = True
            _state.directory, _state.writable = cache_directory(), True
        _apply(_state.directory)


def _apply(directory: Path | None) -> None:
    import jedi
    import parso.cache

    if directory is not None:
        jedi.settings.cache_directory = str(directory / "jedi")
        parso.cache._default_cache_path = directory / "parso"


def _wrap_parso_disk_cache() -> None:
    import parso.cache as cache

    save = getattr(cache, "_save_to_file_system", None)
    load = getattr(cache, "_load_from_file_system", None)
    clean = getattr(cache, "_remove_cache_and_update_lock", None)
    hashed_path = getattr(cache, "_get_hashed_path", None)
    if not all(callable(f) for f in (save, load, clean, hashed_path)):
        log.warning("parso's disk cache changed shape; its writes are not made atomic")
        return
    assert save and load and clean and hashed_path  # for mypy

    def save_atomically(hashed_grammar: Any, path: Any, item: Any, cache_path: Any = None) -> None:
        if _state.directory is None or not _state.writable:
            return
        import tempfile  # with jedi's first parse: a cached rerun never writes here

        try:
            target = hashed_path(hashed_grammar, path, cache_path=cache_path)
            handle, temporary = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".gradguard-")
        except OSError as error:
            _not_writable(error)
            return
        try:
            with os.fdopen(handle, "wb") as file:
                pickle.dump(item, file, pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, target)
        except BaseException as error:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            if not isinstance(error, OSError):
                raise
            _not_writable(error)

    def load_or_miss(*args: Any, **kwargs: Any) -> Any:
        if _state.directory is None:
            return None
        try:
            return load(*args, **kwargs)
        except Exception:  # truncated, corrupt, unreadable: parse the file again
            return None

    def clean_if_writable(*args: Any, **kwargs: Any) -> Any:
        if _state.directory is None or not _state.writable:
            return None
        try:
            return clean(*args, **kwargs)
        except OSError:  # cleaning old entries is best effort
            return None

    cache._save_to_file_system = save_atomically
    cache._load_from_file_system = load_or_miss
    cache._remove_cache_and_update_lock = clean_if_writable


def _not_writable(error: OSError) -> None:
    if _state.writable:
        _state.writable = False
        log.warning(
            "jedi's parse trees are not kept on disk (%s); set GRADGUARD_CACHE_DIR to a "
            "writable directory",
            error,
        )
