"""Each file's results kept between runs of ``gradguard check`` (ruff's ``.ruff_cache``).

An entry is found by a key made of the file's path and content (SHA-256), the
effective configuration, and what GradGuard it came from (:func:`code_fingerprint`:
the version and the size and modification time of every module of the package, so
an upgrade or an edited checkout never reads an older one's results). It holds the
file's outcome (findings with their fixes, the parse error, notices and noqa
warnings) and the files whose jedi answers the analysis used, each with its
modification time (:func:`gradguard.resolver.tracing`): an entry is used only while
all of them are unchanged, so editing an imported module re-checks the files that
asked about it. An analysis that used an answer jedi could not find expires after a
day (a package installed meanwhile may answer it), and one where jedi ran out of
time is not kept at all.

The store is one SQLite file, ``results-v1.sqlite3`` in the cache directory
(:mod:`gradguard.cache_paths`), in WAL mode like jedi's answers: the CLI's worker
processes, two runs at once and a language server share it safely. It is kept under
:data:`MAX_BYTES` by deleting the oldest entries. An entry that cannot be read
(truncated, corrupt, written by another GradGuard) is a miss, deleted and written
again; a store that cannot be opened is switched off with one warning. Never a
crash: at worst the run is as slow as without the cache. The entries are pickles
written by this user's GradGuard into this user's cache directory, as jedi's and
parso's are.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from gradguard import __version__
from gradguard.sqlite_store import SqliteStore

log = logging.getLogger(__name__)

FILE_NAME = "results-v1.sqlite3"
#: The store's size limit; above it the oldest entries go until it is 3/4 full.
MAX_BYTES = 256 * 1024 * 1024
#: An analysis that used an answer jedi could not find is redone after this long.
UNKNOWN_TTL_S = 24 * 3600.0
#: Writes between two checks of the store's size.
_CULL_EVERY = 200
#: Keys looked up per statement (SQLite allows 32,766 parameters; 500 keeps each small).
_KEYS_PER_QUERY = 500

Dependencies = tuple[tuple[str, int | None], ...]


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """This GradGuard: its version and every module's size and modification time."""
    return package_fingerprint(str(Path(__file__).parent), __version__)


def package_fingerprint(directory: str, version: str) -> str:
    modules: list[str] = []
    _list_modules(directory, "", modules)
    digest = hashlib.blake2b(version.encode(), digest_size=16)
    digest.update("".join(sorted(modules)).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _list_modules(directory: str, prefix: str, into: list[str]) -> None:
    """``relative path:size:mtime;`` of every ``.py`` file below ``directory`` (os.scandir:
    a tenth of what ``Path.rglob`` and a ``stat`` each cost, on every run)."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__":
                    _list_modules(entry.path, f"{prefix}{entry.name}/", into)
            elif entry.name.endswith(".py"):
                status = entry.stat()
                into.append(f"{prefix}{entry.name}:{status.st_size}:{status.st_mtime_ns};")
        except OSError:
            continue


def entry_key(path: Path, data: bytes, settings: str) -> str:
    """The key of ``path`` with content ``data`` analysed under ``settings`` (the
    effective configuration and whatever else changes the outcome)."""
    # SHA-256 rather than BLAKE2b: OpenSSL's, with the CPU's SHA instructions, hashes a
    # tree twice as fast (2.8 against 5.3 ms per 5 MB here), and a rerun hashes them all.
    digest = hashlib.sha256()
    for part in (code_fingerprint(), str(path), os.path.abspath(path), settings):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    digest.update(data)
    return digest.hexdigest()


@dataclass(frozen=True)
class Entry:
    outcome: Any
    deps: Dependencies = ()
    expires: float | None = None  # wall-clock seconds


class ResultCache(SqliteStore):
    schema = (
        "CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, outcome BLOB NOT NULL, "
        "deps TEXT NOT NULL, expires REAL, size INTEGER NOT NULL, stored REAL NOT NULL)"
    )
    lost = "results are not kept between runs"

    def __init__(self, directory: Path, max_bytes: int = MAX_BYTES) -> None:
        super().__init__(directory / FILE_NAME, timeout=10.0)
        self.max_bytes = max_bytes
        self._writes = 0
        #: st_mtime_ns per dependency, stat'ed once per run (a run sees one state).
        self._mtimes: dict[str, int | None] = {}

    def get(self, key: str) -> Any | None:
        """The outcome kept for ``key`` if every file it depends on is unchanged."""
        return self.get_many([key]).get(key)

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        """:meth:`get` of each of ``keys`` (the ones found), in a statement per
        :data:`_KEYS_PER_QUERY` keys rather than one per file."""
        found: dict[str, Any] = {}
        for start in range(0, len(keys), _KEYS_PER_QUERY):
            chunk = tuple(keys[start : start + _KEYS_PER_QUERY])
            marks = ",".join("?" * len(chunk))
            rows = self.run(
                f"SELECT key, outcome, deps, expires FROM results WHERE key IN ({marks})", chunk
            )
            for key, blob, deps, expires in rows:
                outcome = self._usable(key, blob, deps, expires)
                if outcome is not None:
                    found[key] = outcome
        return found

    def _usable(self, key: str, blob: bytes, deps: str, expires: float | None) -> Any | None:
        try:
            if expires is not None and expires < time.time():
                return None
            if not all(self._mtime(str(p)) == m for p, m in json.loads(deps)):
                return None
            return pickle.loads(blob)
        except Exception:  # truncated, corrupt, another GradGuard's: analyse again
            log.debug("unreadable result cache entry %s", key, exc_info=True)
            self.run("DELETE FROM results WHERE key = ?", (key,))
            return None

    def put(self, key: str, entry: Entry) -> None:
        try:
            blob = pickle.dumps(entry.outcome, pickle.HIGHEST_PROTOCOL)
        except Exception:  # an outcome that does not pickle is simply not kept
            log.debug("result for %s not kept", key, exc_info=True)
            return
        self.run(
            "INSERT OR REPLACE INTO results (key, outcome, deps, expires, size, stored) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (key, blob, json.dumps(entry.deps), entry.expires, len(blob), time.time()),
        )
        self._writes += 1
        if self._writes % _CULL_EVERY == 1:
            self.cull()

    def cull(self) -> None:
        """Delete the oldest entries while the store holds more than ``max_bytes``."""
        rows = self.run("SELECT COALESCE(SUM(size), 0) FROM results", ())
        total = rows[0][0] if rows else 0
        if total <= self.max_bytes:
            return
        excess, doomed = total - self.max_bytes * 3 // 4, []
        for key, size in self.run("SELECT key, size FROM results ORDER BY stored", ()):
            if excess <= 0:
                break
            doomed.append(key)
            excess -= size
        for start in range(0, len(doomed), _KEYS_PER_QUERY):
            chunk = doomed[start : start + _KEYS_PER_QUERY]
            marks = ",".join("?" * len(chunk))
            self.run(f"DELETE FROM results WHERE key IN ({marks})", tuple(chunk))

    def _mtime(self, path: str) -> int | None:
        if path not in self._mtimes:
            try:
                self._mtimes[path] = os.stat(path).st_mtime_ns
            except OSError:
                self._mtimes[path] = None
        return self._mtimes[path]


def entry_for(outcome: Any, answers: Iterable[Any]) -> Entry | None:
    """The entry of an analysis that got ``answers`` (:class:`gradguard.resolver.Traced`)
    from jedi; None when one was given up on (a later run may know more)."""
    deps: dict[str, int | None] = {}
    unknown = False
    for answer in answers:
        if not answer.settled:
            return None
        unknown = unknown or answer.unknown
        deps.update(answer.deps)
    expires = time.time() + UNKNOWN_TTL_S if unknown else None
    return Entry(outcome, tuple(sorted(deps.items(), key=lambda d: d[0])), expires)
