"""When to analyse: the debounce after an edit, the idle whole-file check,
cancellation of stale checks, one lock per target, and the background tasks.

The scheduler knows nothing of analyses: it starts the two coroutines the
workspace gives it (analyse a target; check a partial result in full) at the
right times, and keeps their tasks alive and their failures logged.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from lsprotocol import types

log = logging.getLogger(__name__)

#: Seconds without an edit before a partial (incremental) result is checked by a
#: full analysis of the file (which takes most of a second at 10,000 lines: a
#: shorter pause would mostly start checks that the next keystroke abandons).
FULL_CHECK_IDLE_S = 1.0


class Failed(Exception):
    """Background work that failed and was already reported."""


class Scheduler:
    def __init__(
        self,
        host: Any,
        analyse: Callable[[str], Awaitable[Any]],
        check_in_full: Callable[[str], Awaitable[Any]],
    ) -> None:
        self.host = host
        self.loop: asyncio.AbstractEventLoop | None = None
        self._analyse = analyse
        self._check_in_full = check_in_full
        self.timers: dict[str, asyncio.TimerHandle] = {}  # pending debounced analyses
        self.full_checks: dict[str, asyncio.TimerHandle] = {}
        self.checks_running: dict[str, threading.Event] = {}  # set: abandon the check
        self.tasks: set[asyncio.Task[None]] = set()
        self.locks: dict[str, asyncio.Lock] = {}

    def lock(self, key: str) -> asyncio.Lock:
        return self.locks.setdefault(key, asyncio.Lock())

    def pending(self, key: str) -> bool:
        """An edit's debounced analysis has not started yet."""
        return key in self.timers

    def changed(self, key: str) -> None:
        """The target's text changed, or it closed: a full check pending or running is
        for an older version (a running one stops at its next rule)."""
        _cancel(self.full_checks, key)
        running = self.checks_running.get(key)
        if running is not None:
            running.set()

    def schedule(self, key: str, delay_ms: int) -> None:
        assert self.loop is not None
        _cancel(self.timers, key)
        self.changed(key)
        if delay_ms <= 0:
            self._start(key)
        else:
            self.timers[key] = self.loop.call_later(delay_ms / 1000, self._fire, key)

    def _fire(self, key: str) -> None:
        self.timers.pop(key, None)
        self._start(key)

    def _start(self, key: str, *, full: bool = False) -> None:
        assert self.loop is not None
        work = self._check_in_full(key) if full else self._analyse(key)
        task = self.loop.create_task(self._logged(key, work))
        self.tasks.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self.tasks.discard)

    def schedule_full_check(self, key: str) -> None:
        """Check a partial result by a full analysis once typing pauses."""
        assert self.loop is not None
        _cancel(self.full_checks, key)
        self.full_checks[key] = self.loop.call_later(FULL_CHECK_IDLE_S, self._start_full, key)

    def _start_full(self, key: str) -> None:
        self.full_checks.pop(key, None)
        if key not in self.timers:  # else an edit is pending: its analysis comes first
            self._start(key, full=True)

    def stop_event(self, key: str) -> threading.Event:
        """The event a full check of ``key`` polls between rules (set: abandon it)."""
        stop = self.checks_running[key] = threading.Event()
        return stop

    def check_done(self, key: str, stop: threading.Event) -> None:
        if self.checks_running.get(key) is stop:
            del self.checks_running[key]

    async def _logged(self, key: str, work: Awaitable[Any]) -> None:
        """Background work: a failure is logged, never lost in an unawaited task."""
        try:
            await work
        except Failed:
            pass  # reported where it failed
        except Exception as error:
            log.exception("analysing %s failed", key)
            self.host.log_message(
                f"GradGuard: analysing {key} failed: {error}", types.MessageType.Error
            )

    def closed(self, key: str) -> None:
        _cancel(self.timers, key)
        self.changed(key)
        self.locks.pop(key, None)

    def shutdown(self) -> None:
        for timers in (self.timers, self.full_checks):
            for timer in timers.values():
                timer.cancel()
            timers.clear()


def _cancel(timers: dict[str, asyncio.TimerHandle], key: str) -> None:
    timer = timers.pop(key, None)
    if timer is not None:
        timer.cancel()
