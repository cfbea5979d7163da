"""One SQLite file shared by threads and processes, that never fails the caller.

jedi's answers (:mod:`gradguard.answers`) and each file's results
(:mod:`gradguard.result_cache`) are kept this way. WAL mode lets readers go on while
one process writes; this process's threads are serialised by a lock. A statement
that waits past the timeout for another process's write (a busy machine) is skipped;
a store that cannot be opened or read (a read-only home, a damaged file) is switched
off with one warning. Either way the caller only gets slower.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class SqliteStore:
    #: ``CREATE TABLE IF NOT EXISTS ...`` of the store.
    schema = ""
    #: The start of the warning when the store is switched off.
    lost = "nothing is kept on disk"

    def __init__(self, path: Path, timeout: float = 5.0) -> None:
        self.path = path
        self.timeout = timeout
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._failed = False

    def run(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[Any]:
        """The rows of ``sql``; none when the store is off or the statement was skipped."""
        with self._lock:
            if self._failed:
                return []
            try:
                connection = self._connection or self._open()
                with connection:
                    return connection.execute(sql, parameters).fetchall()
            except sqlite3.OperationalError as error:
                if "locked" in str(error) or "busy" in str(error):
                    log.debug("%s: %s (skipped)", self.path, error)
                    return []
                self._switch_off(error)
            except (sqlite3.Error, OSError, ValueError, TypeError) as error:
                self._switch_off(error)
            return []

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _switch_off(self, error: Exception) -> None:
        self._failed = True
        log.warning(
            "%s (%s: %s); set GRADGUARD_CACHE_DIR to a writable directory, or run "
            "`gradguard clean` if the file is damaged",
            self.lost,
            self.path,
            error,
        )

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=self.timeout, check_same_thread=False)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            # A cache: in WAL mode NORMAL keeps the file consistent through a crash and
            # only a power loss may drop the last writes, while FULL waited for the disk
            # at every commit (one per analysed file: 0.15 s of CPU on 304 files).
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute(self.schema)
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return connection
