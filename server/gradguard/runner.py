"""Analysing many files so that no file's failure ends the run.

:func:`run_all` calls ``analyse(path)`` for every path, in worker processes when
there are enough files, and returns the results in the order of the paths. Two
kinds of failure become that file's result, made by ``failed(path, reason)``, and
the run goes on:

* an exception out of ``analyse`` (a bug, or CPython's ``SystemError``; the
  engine has already retried a failed parse once), reason
  ``"SystemError: <message>"``;
* a worker process that dies (killed by a signal, out of memory). Each worker
  has at most :data:`_IN_FLIGHT_PER_WORKER` files handed to it, so when the pool
  breaks the files it held are known: each is analysed again, alone, in a new
  process. A file that kills that one too gets the reason ``"the worker process
  analysing it was killed by SIGKILL"``; the rest of the run continues in a new pool.

Work is handed out one file at a time rather than in chunks: a file costs
milliseconds to seconds, the hand-over well under one, and it keeps the workers
evenly loaded to the last file. The pool has ``jobs`` workers (the CLI's default: the
CPUs this process may run on), never more than there are files; a few small files
are analysed in the parent (:data:`PARALLEL_THRESHOLD`, :data:`PARALLEL_MIN_BYTES`),
which then imports nothing of :mod:`multiprocessing`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:  # the pool's modules load when a run needs a pool
    from concurrent.futures import Future

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Below this many files a process pool costs more than it saves ...
PARALLEL_THRESHOLD = 16
#: ... and below this many bytes in all: a worker's start (a fork, its jedi) costs
#: about what analysing this much takes in the parent. Measured on timm with k files
#: edited after a cached run, parent against a pool of 2 (docs/benchmarks.md): up to 8
#: files (186 KiB) the parent is as fast or faster, at 16 (293 KiB) they are even, at
#: 32 (541 KiB) the pool is faster by a third; 2 to 4 of the largest files (361-602
#: KiB) were no faster in a pool.
PARALLEL_MIN_BYTES = 256 * 1024
#: Files handed to the pool per worker before one comes back (hides the hand-over).
_IN_FLIGHT_PER_WORKER = 2


@dataclass(frozen=True)
class Job(Generic[T]):
    """``analyse`` and ``failed`` (module-level functions or ``functools.partial``
    of them: they are pickled to the workers) and each worker's ``initializer``."""

    analyse: Callable[[Path], T]
    failed: Callable[[Path, str], T]
    initializer: Callable[[], None] | None = None


def run_all(paths: Sequence[Path], job: Job[T], jobs: int) -> list[T]:
    sizes = {path: _size(path) for path in paths}
    if jobs <= 1 or len(paths) < PARALLEL_THRESHOLD or sum(sizes.values()) < PARALLEL_MIN_BYTES:
        return [guarded(job.analyse, job.failed, path) for path in paths]
    workers = min(jobs, len(paths))
    results: dict[Path, T] = {}
    # Largest first: the last file handed out is a small one, so no worker is left
    # alone with a big file at the end.
    remaining = sorted(paths, key=lambda path: -sizes[path])
    while remaining:
        held = _run_pool(remaining, job, workers, results)
        if held:
            log.warning(
                "a worker process died; analysing its %d file(s) again, one at a time", len(held)
            )
        for path in held:
            results[path] = _run_alone(path, job)
        remaining = [path for path in remaining if path not in results]
    return [results[path] for path in paths]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def guarded(analyse: Callable[[Path], T], failed: Callable[[Path, str], T], path: Path) -> T:
    """``analyse(path)``; an exception becomes ``failed(path, reason)``."""
    try:
        return analyse(path)
    except Exception as error:
        log.debug("internal error on %s", path, exc_info=True)
        return failed(path, _describe(error))


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _run_pool(paths: list[Path], job: Job[T], workers: int, results: dict[Path, T]) -> list[Path]:
    """Analyse ``paths`` into ``results``; the files the pool held when it broke."""
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    waiting = iter(paths)
    in_flight: dict[Future[T], Path] = {}
    with ProcessPoolExecutor(max_workers=workers, initializer=job.initializer) as pool:
        try:
            while True:
                while len(in_flight) < workers * _IN_FLIGHT_PER_WORKER:
                    path = next(waiting, None)
                    if path is None:
                        break
                    in_flight[pool.submit(guarded, job.analyse, job.failed, path)] = path
                if not in_flight:
                    return []
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                _collect(done, in_flight, job, results)
        except BrokenProcessPool:
            with contextlib.suppress(BrokenProcessPool):
                _collect([f for f in in_flight if f.done()], in_flight, job, results)
            return list(in_flight.values())


def _collect(
    done: Iterable[Future[T]], in_flight: dict[Future[T], Path], job: Job[T], results: dict[Path, T]
) -> None:
    """Move the finished futures' results into ``results``; raises BrokenProcessPool
    (leaving the broken ones in ``in_flight``) after collecting the others."""
    from concurrent.futures.process import BrokenProcessPool

    broken = False
    for future in done:
        error = future.exception()
        if isinstance(error, BrokenProcessPool):
            broken = True
            continue
        path = in_flight.pop(future)
        # An exception here is the result's trip back (one that does not pickle).
        results[path] = job.failed(path, _describe(error)) if error else future.result()
    if broken:
        raise BrokenProcessPool


def _run_alone(path: Path, job: Job[T]) -> T:
    """``path`` in a process of its own: a death there is this file's."""
    import multiprocessing

    context = multiprocessing.get_context()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_alone, args=(sender, job, path), daemon=True)
    process.start()
    sender.close()
    try:
        result: T = receiver.recv()
    except EOFError:  # the process died before it answered
        process.join()
        return job.failed(path, _death(process.exitcode))
    process.join()
    return result


def _alone(sender: Any, job: Job[Any], path: Path) -> None:
    if job.initializer is not None:
        job.initializer()
    sender.send(guarded(job.analyse, job.failed, path))


def _death(exitcode: int | None) -> str:
    import signal

    if exitcode is not None and exitcode < 0:
        try:
            return f"the worker process analysing it was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            pass
    return f"the worker process analysing it exited with status {exitcode}"
