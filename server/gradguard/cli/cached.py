"""``gradguard check`` through the result cache (:mod:`gradguard.result_cache`), and
``gradguard clean``.

The parent process looks every file up first (reading and hashing a file costs a
small fraction of parsing it), before anything that analyses is imported or any
worker exists: a run whose files are all kept imports neither the engine, the rules
nor jedi, and starts no process. Only the misses go to the runner, whose workers
(or the parent itself, for a few small files: :func:`gradguard.runner.run_all`)
analyse them and keep their results. ``--no-cache``, ``GRADGUARD_CACHE_DIR=off``,
``--fix`` and ``--diff`` (which write or print new text) bypass the cache.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

from gradguard import cache_paths, result_cache
from gradguard.cli.outcome import CheckOptions, FileOutcome, config_for_file, internal_error

EXIT_CLEAN = 0


def check_paths(targets: list[Path], options: CheckOptions, jobs: int) -> list[FileOutcome]:
    cache = _open(options)
    kept: dict[Path, FileOutcome] = {}
    if cache is not None:
        kept = _kept(cache, targets, options)
        cache.close()  # an SQLite connection must not cross into forked workers
    misses = [path for path in targets if path not in kept]
    if misses:
        analysed = _analyse(misses, options, jobs, keep=cache is not None)
        kept.update(zip(misses, analysed, strict=True))
    return [kept[path] for path in targets]


def _analyse(paths: list[Path], options: CheckOptions, jobs: int, *, keep: bool) -> list[Any]:
    """The files no cached outcome answers for, analysed (and kept when ``keep``)."""
    from gradguard import gctuning, runner
    from gradguard.cli.analyse import check_file
    from gradguard.rules import all_rules

    # Imported once here rather than by each worker: forked workers share them.
    all_rules()
    gctuning.tune_for_analysis()
    analyse = partial(check_and_keep if keep else check_file, options=options)
    job = runner.Job(analyse, internal_error, gctuning.tune_for_analysis)
    return runner.run_all(paths, job, jobs)


def check_and_keep(path: Path, options: CheckOptions) -> FileOutcome:
    """:func:`check_file`, keeping the outcome with the jedi answers it used."""
    from gradguard.cli.analyse import check_file

    try:
        data = path.read_bytes()
    except OSError:
        return check_file(path, options)
    with _tracing(options) as used:
        outcome = check_file(path, options, data=data)
    entry = result_cache.entry_for(outcome, used)
    cache = _worker_cache(options)
    if entry is not None and cache is not None and not outcome.report.internal:
        cache.put(result_cache.entry_key(path, data, _settings(path, options)), entry)
    return outcome


def _kept(
    cache: result_cache.ResultCache, paths: list[Path], options: CheckOptions
) -> dict[Path, FileOutcome]:
    """The outcome kept for each of ``paths`` that has a usable one."""
    keys: dict[str, Path] = {}
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        keys[result_cache.entry_key(path, data, _settings(path, options))] = path
    found = cache.get_many(list(keys))
    return {keys[key]: outcome for key, outcome in found.items()}


#: A configuration's part of the key, made once per configuration rather than per file.
_settings_of: dict[tuple[int, bool], tuple[Any, str]] = {}


def _settings(path: Path, options: CheckOptions) -> str:
    """What besides the file decides its outcome: its effective configuration and
    whether jedi is asked."""
    config = config_for_file(path, options)
    known = _settings_of.get((id(config), options.resolve))
    if known is None or known[0] is not config:  # the id of a configuration since freed
        known = (config, repr((config, options.resolve)))
        _settings_of[(id(config), options.resolve)] = known
    return known[1]


def _open(options: CheckOptions) -> result_cache.ResultCache | None:
    if not options.answer_cache or options.fix or options.diff:
        return None
    directory = cache_paths.cache_directory()
    return result_cache.ResultCache(directory) if directory is not None else None


#: This process's store for the workers' writes, by (pid, directory): a forked child
#: opens its own, and a run in the same process with another directory another one.
_worker_stores: dict[tuple[int, Path | None], result_cache.ResultCache | None] = {}


def _worker_cache(options: CheckOptions) -> result_cache.ResultCache | None:
    where = (os.getpid(), cache_paths.cache_directory())
    if where not in _worker_stores:
        _worker_stores[where] = _open(options)
    return _worker_stores[where]


@contextlib.contextmanager
def _tracing(options: CheckOptions) -> Iterator[list[Any]]:
    if not options.resolve:  # no jedi: nothing to trace, and jedi stays unimported
        yield []
        return
    from gradguard.resolver import tracing

    with tracing() as used:
        yield used


# -- gradguard clean ------------------------------------------------------------------


def run_clean(args: argparse.Namespace) -> int:
    """Remove what GradGuard keeps in its cache directory (and only that: the
    directory may be one the user shares with other tools)."""
    from gradguard import answers

    directory = cache_paths.cache_directory()
    if directory is None:
        print("gradguard clean: the cache is off (GRADGUARD_CACHE_DIR); nothing to remove")
        return EXIT_CLEAN
    removed = 0
    for name in (result_cache.FILE_NAME, answers.FILE_NAME):
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                (directory / f"{name}{suffix}").unlink()
                removed += 1
    for library in ("jedi", "parso"):
        if (directory / library).is_dir():
            shutil.rmtree(directory / library, ignore_errors=True)
            removed += 1
    if not args.quiet:
        print(f"Removing cache at: {directory}" if removed else f"No cache at: {directory}")
    return EXIT_CLEAN
