"""Finding and reading the files to check; writing fixed ones back."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gradguard.config import Config

if TYPE_CHECKING:
    import pathspec

#: gradguard.notebook's NOTEBOOK_SUFFIX is the last (not imported: finding files needs
#: nothing of notebooks).
PYTHON_SUFFIXES = (".py", ".pyi", ".ipynb")
IGNORE_FILES = (".gitignore", ".ignore")
ConfigForDirectory = Callable[[Path], Config]


@dataclass(frozen=True)
class SourceText:
    text: str
    encoding: str


class UnreadableFile(Exception):
    """A file that cannot be decoded; the message names the line."""


def discover(
    paths: list[Path], config_for_path: ConfigForDirectory, *, force_exclude: bool = False
) -> Iterator[Path]:
    """Python files and notebooks under ``paths``: directories are walked, skipping what
    ``exclude``/``extend-exclude`` and (``respect-gitignore``) ``.gitignore``/``.ignore``
    files name. A file or directory named explicitly is checked even when excluded
    (``gradguard check build/``: the patterns then apply below it only), unless
    ``force_exclude`` (or the configuration's ``force-exclude``) is set (ruff's model:
    pre-commit names every file)."""
    for path in paths:
        if path.is_dir():
            yield from _walk(path, config_for_path, force_exclude)
            continue
        config = config_for_path(path.parent)
        if (force_exclude or config.force_exclude) and (
            config.is_excluded(str(path.resolve())) or _ignored(path, config)
        ):
            continue
        yield path


def _walk(root: Path, config_for_path: ConfigForDirectory, force: bool) -> Iterator[Path]:
    # Patterns match resolved paths (configuration roots are resolved); resolving the
    # root once and joining names is much cheaper than resolving every entry.
    resolved_root = str(root.resolve())
    config = config_for_path(root)
    ignores = _IgnoreFiles(root)
    named_excluded = config.is_excluded(resolved_root, is_dir=True)
    named_ignored = config.respect_gitignore and ignores.ignored(root, is_dir=True)
    if named_excluded or named_ignored:
        if force or config.force_exclude:
            return
        # Named on purpose: what excludes it does not exclude everything below it.
        ignores = _IgnoreFiles(root, above=not named_ignored)
    base = resolved_root if named_excluded else None
    for directory, dirnames, filenames in os.walk(root):
        here = Path(directory)
        resolved = os.path.normpath(os.path.join(resolved_root, os.path.relpath(directory, root)))
        config = config_for_path(here)
        respect = config.respect_gitignore
        if respect:
            ignores.read(here)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not config.is_excluded(os.path.join(resolved, d), is_dir=True, base=base)
            and not (respect and ignores.ignored(here / d, is_dir=True))
        )
        for name in sorted(filenames):
            if not name.endswith(PYTHON_SUFFIXES):
                continue
            if config.is_excluded(os.path.join(resolved, name), base=base):
                continue
            path = here / name
            if respect and ignores.ignored(path, is_dir=False):
                continue
            yield path


def _ignored(path: Path, config: Config) -> bool:
    if not config.respect_gitignore:
        return False
    ignores = _IgnoreFiles(path.parent)
    return ignores.ignored(path, is_dir=False)


class _IgnoreFiles:
    """``.gitignore`` and ``.ignore`` files of the walked directories and of the
    directories above the walk up to the repository root (the one holding ``.git``),
    each matched relative to its own directory with gitwildmatch semantics."""

    def __init__(self, start: Path, *, above: bool = True) -> None:
        self._specs: dict[str, pathspec.PathSpec] = {}  # directory + "/" -> its patterns
        start = start.absolute()
        for directory in [*reversed(start.parents), start] if above else [start]:
            if (directory / ".git").exists():
                self._specs.clear()  # ignore files above the repository do not apply
            self.read(directory)

    def read(self, directory: Path) -> None:
        lines: list[str] = []
        for name in IGNORE_FILES:
            try:
                lines += (directory / name).read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                continue
        if lines:
            # gitwildmatch semantics (see pyproject.toml); imported where an ignore file is.
            import pathspec

            prefix = os.path.join(os.path.abspath(directory), "")
            self._specs[prefix] = pathspec.GitIgnoreSpec.from_lines(lines)

    def ignored(self, path: Path, *, is_dir: bool) -> bool:
        if not self._specs:
            return False
        absolute = os.path.abspath(path)
        for prefix, spec in self._specs.items():
            if not absolute.startswith(prefix):
                continue
            relative = absolute[len(prefix) :].replace(os.sep, "/")
            if spec.match_file(relative + "/" if is_dir else relative):
                return True
        return False


def decode(data: bytes, path: str) -> SourceText:
    """Decode source bytes per PEP 263 (coding cookie, BOM, else UTF-8)."""
    import io
    import tokenize  # where a file is analysed: a cached rerun decodes nothing

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
