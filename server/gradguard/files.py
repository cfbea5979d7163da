"""Finding and reading the files to check; writing fixed ones back."""

from __future__ import annotations

import io
import os
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gradguard.config import Config

_SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "__pycache__",
        "node_modules",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        "build",
        "dist",
        "site-packages",
    }
)
PYTHON_SUFFIXES = (".py", ".pyi")


@dataclass(frozen=True)
class SourceText:
    text: str
    encoding: str


class UnreadableFile(Exception):
    """A file that cannot be decoded; the message names the line."""


def discover(paths: list[Path], config_for_path) -> Iterator[Path]:
    """Python files under ``paths``; directories recurse, honouring ``exclude``.

    Files named explicitly are checked even when excluded by a pattern only if
    they match no pattern (same as ruff without --force-exclude).
    """
    for path in paths:
        if path.is_dir():
            yield from _walk(path, config_for_path)
        else:
            yield path


def _walk(root: Path, config_for_path) -> Iterator[Path]:
    for directory, dirnames, filenames in os.walk(root):
        config: Config = config_for_path(Path(directory))
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in _SKIPPED_DIRS
            and not d.endswith(".egg-info")
            and not config.is_excluded(os.path.join(directory, d))
        )
        for name in sorted(filenames):
            path = os.path.join(directory, name)
            if name.endswith(PYTHON_SUFFIXES) and not config.is_excluded(path):
                yield Path(path)


def decode(data: bytes, path: str) -> SourceText:
    """Decode source bytes per PEP 263 (coding cookie, BOM, else UTF-8)."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:
        if "invalid or missing encoding declaration" not in str(error):
            raise UnreadableFile(f"{path}:1:1: cannot read: {error}") from None
        # No cookie and a first or second line that is not UTF-8: say where.
        encoding = "utf-8"
    try:
        return SourceText(data.decode(encoding), encoding)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise UnreadableFile(
            f"{path}:{line}:{column}: cannot decode byte 0x{data[error.start]:02x} as {encoding}; "
            "file skipped (save it as UTF-8 or declare its encoding)"
        ) from None
    except LookupError:
        raise UnreadableFile(f"{path}:1:1: unknown encoding {encoding!r}; file skipped") from None


def read(path: Path) -> SourceText:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UnreadableFile(f"{path}:1:1: cannot read: {error.strerror or error}") from None
    return decode(data, str(path))


def write(path: Path, source: SourceText) -> None:
    # newline="" keeps the line endings the text already has.
    with open(path, "w", encoding=source.encoding, newline="") as handle:
        handle.write(source.text)
