"""jedi's answers kept on disk: between runs, and between the CLI's worker processes.

An answer is stored with the files it came from and their modification times
(``JediResolver`` records them) and is used only while every one of them is
unchanged, the rule the in-memory cache follows. For a name jedi could not resolve
those are the directories the name could appear in (a module added there, or a
package installed, changes them), and the answer also expires after a day.

The store is one SQLite file, ``answers-v2.sqlite3`` in the cache directory
(:mod:`gradguard.cache_paths`: ``$GRADGUARD_CACHE_DIR``, else
``$XDG_CACHE_HOME/gradguard``, else ``~/.cache/gradguard``); SQLite makes
concurrent readers and writers safe. ``GRADGUARD_CACHE_DIR=off`` or
``gradguard check --no-cache`` keeps nothing. A store that cannot be opened or
read (a read-only home, a damaged file) is switched off with one warning: the
analysis only gets slower.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from gradguard.cache_paths import cache_directory

log = logging.getLogger(__name__)

FILE_NAME = "answers-v2.sqlite3"
#: Stored per key: kind ("" when unresolved), description, deps ([path, mtime_ns or null],
#: ...), and when it expires (wall-clock seconds; None: never).
Stored = tuple[str, str | None, list[tuple[str, int | None]], float | None]


class AnswerStore:
    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE_NAME
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._failed = False

    @classmethod
    def default(cls) -> AnswerStore | None:
        directory = cache_directory()
        return cls(directory) if directory is not None else None

    def get(self, key: str) -> Stored | None:
        sql = "SELECT kind, description, deps, expires FROM answers WHERE key = ?"
        row = self._run(sql, (key,))
        if not row:
            return None
        kind, description, deps, expires = row[0]
        if expires is not None and expires < time.time():
            return None
        return kind, description, [(str(p), mtime) for p, mtime in json.loads(deps)], expires

    def put(self, key: str, stored: Stored) -> None:
        kind, description, deps, expires = stored
        self._run(
            "INSERT OR REPLACE INTO answers (key, kind, description, deps, expires) "
            "VALUES (?, ?, ?, ?, ?)",
            (key, kind, description, json.dumps(deps), expires),
        )

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _run(self, sql: str, parameters: tuple[Any, ...]) -> list[Any]:
        with self._lock:
            if self._failed:
                return []
            try:
                connection = self._connection or self._open()
                with connection:
                    return connection.execute(sql, parameters).fetchall()
            except (sqlite3.Error, OSError, ValueError, TypeError) as error:
                self._failed = True
                log.warning(
                    "jedi answers are not kept on disk (%s: %s); set GRADGUARD_CACHE_DIR "
                    "to a writable directory, or delete the file if it is damaged",
                    self.path,
                    error,
                )
                return []

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # The lock above serialises this process's threads; SQLite, the processes.
        connection = sqlite3.connect(self.path, timeout=5.0, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(
            "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, kind TEXT NOT NULL, "
            "description TEXT, deps TEXT NOT NULL, expires REAL)"
        )
        self._connection = connection
        return connection
