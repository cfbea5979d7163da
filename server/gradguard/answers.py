"""jedi's answers kept on disk: between runs, and between the CLI's worker processes.

An answer is stored with the files it came from and their modification times
(``JediResolver`` records them) and is used only while every one of them is
unchanged, the rule the in-memory cache follows. For a name jedi could not resolve
those are the directories the name could appear in (a module added there, or a
package installed, changes them), and the answer also expires after a day.

The store is one SQLite file, ``answers-v2.sqlite3`` in the cache directory
(:mod:`gradguard.cache_paths`: ``$GRADGUARD_CACHE_DIR``, else
``$XDG_CACHE_HOME/gradguard``, else ``~/.cache/gradguard``); SQLite makes
concurrent readers and writers safe (:mod:`gradguard.sqlite_store`).
``GRADGUARD_CACHE_DIR=off`` or ``gradguard check --no-cache`` keeps nothing. A store
that cannot be opened or read (a read-only home, a damaged file) is switched off with
one warning: the analysis only gets slower.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from gradguard.cache_paths import cache_directory
from gradguard.sqlite_store import SqliteStore

FILE_NAME = "answers-v2.sqlite3"
#: Stored per key: kind ("" when unresolved), description, deps ([path, mtime_ns or null],
#: ...), and when it expires (wall-clock seconds; None: never).
Stored = tuple[str, str | None, list[tuple[str, int | None]], float | None]


class AnswerStore(SqliteStore):
    schema = (
        "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, kind TEXT NOT NULL, "
        "description TEXT, deps TEXT NOT NULL, expires REAL)"
    )
    lost = "jedi answers are not kept on disk"

    def __init__(self, directory: Path) -> None:
        super().__init__(directory / FILE_NAME)

    @classmethod
    def default(cls) -> AnswerStore | None:
        directory = cache_directory()
        return cls(directory) if directory is not None else None

    def get(self, key: str) -> Stored | None:
        sql = "SELECT kind, description, deps, expires FROM answers WHERE key = ?"
        row = self.run(sql, (key,))
        if not row:
            return None
        kind, description, deps, expires = row[0]
        if expires is not None and expires < time.time():
            return None
        return kind, description, [(str(p), mtime) for p, mtime in json.loads(deps)], expires

    def put(self, key: str, stored: Stored) -> None:
        kind, description, deps, expires = stored
        self.run(
            "INSERT OR REPLACE INTO answers (key, kind, description, deps, expires) "
            "VALUES (?, ?, ?, ?, ?)",
            (key, kind, description, json.dumps(deps), expires),
        )
