"""What ``gradguard check`` knows of a file without analysing it: the options of the
run, a file's outcome and its effective configuration.

Kept apart from :mod:`gradguard.cli.analyse` (the engine, the rules, the semantic
model): a rerun whose files are all in the result cache reads their outcomes and
prints them with this module alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from gradguard.config import Config, find_config, load_config_file, with_rule_selection
from gradguard.output.report import FileReport


@dataclass(frozen=True)
class CheckOptions:
    fix: bool = False
    unsafe_fixes: bool = False
    diff: bool = False
    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    config_file: str | None = None
    resolve: bool = True
    #: Keep jedi's answers on disk between runs and share them between workers.
    answer_cache: bool = True
    force_exclude: bool = False
    # --extend-exclude patterns, added to each configuration's extend-exclude.
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class FileOutcome:
    report: FileReport
    fixed_text: str | None = None  # set when fixes changed the text
    diff: str = ""
    notices: tuple[str, ...] = ()
    noqa_warnings: tuple[str, ...] = ()
    # Findings that --fix removed, per code (reported before, gone after).
    fixed_codes: dict[str, int] = field(default_factory=dict)


# -- configuration ---------------------------------------------------------------------


# Directory -> its configuration file, filled as the run walks (see config.find_config).
_found_configs: dict[Path, Path | None] = {}


@lru_cache(maxsize=256)
def _config_for_directory(directory: str, options: CheckOptions) -> Config:
    if options.config_file:
        config = _loaded(str(Path(options.config_file).resolve()))
    else:
        found = find_config(Path(directory), _found_configs)
        config = _loaded(str(found)) if found else Config(root=_project_root(directory))
    return with_rule_selection(
        config, select=options.select, extend_select=options.extend_select, ignore=options.ignore
    )


def _project_root(directory: str) -> str:
    """Without a configuration file, patterns are relative to the working directory
    (ruff's project root), or to the directory itself when it is outside it."""
    cwd = str(Path.cwd().resolve())
    return cwd if directory == cwd or directory.startswith(cwd + os.sep) else directory


@lru_cache(maxsize=64)
def _loaded(path: str) -> Config:
    """Each configuration file is read once per run, however many directories it serves."""
    return load_config_file(Path(path))


#: (working directory, directory as named) -> resolved: resolving costs a stat per
#: part of the path, and a run asks once per file.
_resolved: dict[tuple[str, str], str] = {}


def config_for_file(path: Path, options: CheckOptions) -> Config:
    directory = str(path.parent) if str(path) != "-" else "."
    where = (os.getcwd(), directory)
    resolved = _resolved.get(where)
    if resolved is None:
        resolved = _resolved[where] = str(Path(directory).resolve())
    return _config_for_directory(resolved, options)


def clear_config_cache() -> None:
    """Configuration files may have changed since the last in-process run (and the
    working directory with them)."""
    _config_for_directory.cache_clear()
    _loaded.cache_clear()
    _found_configs.clear()
    _resolved.clear()


def internal_error(path: Path | str, reason: str) -> FileOutcome:
    """The report of a file GradGuard failed on (an exception, a dead worker)."""
    message = f"{path}: internal error: {reason} (file not analysed)"
    return FileOutcome(FileReport(str(path), (), message, internal=True))
