"""Configuration: ``[tool.gradguard]`` / ``gradguard.toml``, rule selection and excludes.

Invalid values never stop a run: each problem becomes a :class:`ConfigError` naming
the file and key; that key (or, in a table, that entry) falls back to its default.

Rule selection follows ruff. The project file is the first layer; the command line
and the editor add one more through :func:`with_rule_selection`, with the same
meaning in both: ``select`` replaces what earlier layers selected, ``extend-select``
adds, ``ignore`` removes. Within a layer the more specific prefix wins (``ignore =
["GG1"]`` with ``select = ["GG101"]`` keeps GG101); a tie goes to ``ignore``.
``ALL`` is the least specific prefix.
"""

from __future__ import annotations

import fnmatch
import os
import re
import sys
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when a pattern is first compiled (not before `initialize`)
    import pathspec

from gradguard.findings import Severity
from gradguard.name_patterns import NamePatterns, all_bare_names


def _toml() -> Any:
    """The TOML reader, imported when a file is read (a run without one never needs it)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    return tomllib


_CODE_PREFIX = re.compile(r"^(GG\d{0,3}|ALL)$")
DEFAULT_MAX_FILE_BYTES = 2_000_000
#: The directories a walk never enters unless ``exclude`` is set to something else.
DEFAULT_EXCLUDE = (
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
    "*.egg-info",
)
CONFIG_FILE_NAMES = (".gradguard.toml", "gradguard.toml")


@dataclass(frozen=True)
class ConfigError:
    file: str
    key: str
    message: str
    #: False when only one entry of the key's table was dropped (the message says so): the
    #: rest of the key is used, not its default.
    default_used: bool = True

    def __str__(self) -> str:
        key = f" [{self.key}]" if self.key else ""
        return f"{self.file}{key}: {self.message}"


@dataclass(frozen=True)
class RuleSelection:
    """One layer of rule selection (project file, command line or editor)."""

    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()

    def decide(self, code: str, enabled: bool) -> bool:
        if self.select is not None:
            enabled = False
        chosen = _specificity(code, (*(self.select or ()), *self.extend_select))
        ignored = _specificity(code, self.ignore)
        if chosen is None and ignored is None:
            return enabled
        return ignored is None or (chosen is not None and chosen > ignored)


def _specificity(code: str, prefixes: tuple[str, ...]) -> int | None:
    """Length of the longest prefix matching ``code`` (ALL counts 0), None if none does."""
    lengths = [0 if p == "ALL" else len(p) for p in prefixes if p == "ALL" or code.startswith(p)]
    return max(lengths, default=None)


@dataclass(frozen=True)
class Config:
    select: tuple[str, ...] = ("GG",)
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    severity: tuple[tuple[str, Severity], ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: tuple[str, ...] = ()
    force_exclude: bool = False
    respect_gitignore: bool = True
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    # Base of the rule links in CLI output (None: the packaged pages, gradguard.docs).
    docs_url: str | None = None
    # Layers added by the command line or the editor (with_rule_selection).
    overrides: tuple[RuleSelection, ...] = ()
    # Directory that relative patterns (exclude, per-file-ignores) are matched against.
    root: str = "."
    errors: tuple[ConfigError, ...] = field(default=(), compare=False)

    def is_enabled(self, code: str, path: str | None = None) -> bool:
        enabled = self._selected.get(code)
        if enabled is None:
            enabled = False
            base = RuleSelection(self.select, self.extend_select, self.ignore)
            for layer in (base, *self.overrides):
                enabled = layer.decide(code, enabled)
            self._selected[code] = enabled
        if enabled and path is not None:
            for pattern, codes in self.per_file_ignores:
                if _specificity(code, codes) is not None and self._matches(path, pattern):
                    return False
        return enabled

    @cached_property
    def _selected(self) -> dict[str, bool]:
        """Each code's selection, decided once (asked for every rule of every file)."""
        return {}

    def severity_for(self, code: str, default: Severity) -> Severity:
        return dict(self.severity).get(code, default)

    def is_excluded(self, path: str, *, is_dir: bool = False, base: str | None = None) -> bool:
        """True when ``path`` (relative to ``root``, or to ``base``) or a directory above
        it matches ``exclude`` or ``extend-exclude`` (gitwildmatch: ``build`` anywhere,
        ``/build`` only at the root)."""
        relative = os.path.relpath(path, base) if base else self._relative(path)
        if relative in (".", ""):
            return False
        return self._exclude_spec.match_file(relative + "/" if is_dir else relative)

    @property
    def _exclude_spec(self) -> pathspec.PathSpec | NamePatterns:
        return compiled_patterns((*self.exclude, *self.extend_exclude))

    def _relative(self, path: str) -> str:
        """``path`` relative to ``root`` (else to the working directory, else its name:
        a pattern never matches the directories above the project)."""
        if _normal(path):  # a walk asks for every file: PurePath's answer, by slicing
            for base in (self.root, os.getcwd()):
                if not _normal(base):
                    break
                if base == path:
                    return "."
                prefix = os.path.join(base, "")  # "/" stays "/"
                if path.startswith(prefix):
                    return path[len(prefix) :].replace(os.sep, "/")
        pure = PurePath(path)
        for base in (self.root, os.getcwd()):
            try:
                return pure.relative_to(base).as_posix()
            except ValueError:
                continue
        return pure.name

    def _matches(self, path: str, pattern: str) -> bool:
        """``per-file-ignores`` globs (fnmatch, as before: ``*`` crosses directories),
        tried on the relative path, the file name and each directory name."""
        pure = PurePath(path)
        relative = self._relative(path)
        candidates = {relative, pure.name}
        pattern = pattern.rstrip("/")
        return any(
            fnmatch.fnmatch(c, pattern) or fnmatch.fnmatch(c, pattern + "/*") for c in candidates
        ) or any(fnmatch.fnmatch(part, pattern) for part in PurePath(relative).parts[:-1])


def _normal(path: str) -> bool:
    """An absolute path without ``.``, ``..``, doubled or trailing separators."""
    return os.path.isabs(path) and os.path.normpath(path) == path


@lru_cache(maxsize=64)
def compiled_patterns(patterns: tuple[str, ...]) -> pathspec.PathSpec | NamePatterns:
    """gitwildmatch patterns, compiled once per list (a walk asks for every directory);
    bare names (the default list) without importing pathspec."""
    if all_bare_names(patterns):
        return NamePatterns(patterns)
    import pathspec  # gitwildmatch (.gitignore) semantics for exclude patterns

    return pathspec.GitIgnoreSpec.from_lines(patterns)


def with_rule_selection(
    config: Config,
    *,
    select: tuple[str, ...] | None = None,
    extend_select: tuple[str, ...] = (),
    ignore: tuple[str, ...] = (),
) -> Config:
    """``config`` with one more selection layer: what ``--select``/``--extend-select``/
    ``--ignore`` and the editor's ``gradguard.select``/``ignore`` mean (see the module
    docstring). Codes must already be checked (:func:`check_codes`)."""
    if select is None and not extend_select and not ignore:
        return config
    layer = RuleSelection(select, extend_select, ignore)
    return replace(config, overrides=(*config.overrides, layer))


# -- reading a table -------------------------------------------------------------------


class _PartlyInvalid(ValueError):
    """Some entries of a table were invalid; ``value`` holds the valid ones."""

    def __init__(self, value: Any, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.value = value
        self.problems = problems


def config_from_mapping(
    data: Any, origin: str, root: str = ".", base: Config | None = None
) -> Config:
    """Validate a ``[tool.gradguard]``-shaped mapping; bad keys keep ``base``'s values."""
    base = base or Config(root=root)
    errors: list[ConfigError] = []
    values = _fields(base)
    values["root"] = root
    if not isinstance(data, dict):
        errors.append(ConfigError(origin, "", "expected a table of settings"))
        data = {}
    for key, value in data.items():
        parser = _PARSERS.get(key)
        if parser is None:
            errors.append(ConfigError(origin, key, _unknown_key(key)))
            continue
        try:
            values[key.replace("-", "_")] = parser(value)
        except _PartlyInvalid as partly:
            values[key.replace("-", "_")] = partly.value
            errors.extend(ConfigError(origin, key, p, default_used=False) for p in partly.problems)
        except ValueError as error:
            errors.append(ConfigError(origin, key, str(error)))
    values["errors"] = tuple(errors)
    return Config(**values)


def _unknown_key(key: str) -> str:
    import difflib  # only for an unknown key

    close = difflib.get_close_matches(key, list(_PARSERS), n=1, cutoff=0.6)
    hint = f"; did you mean `{close[0]}`?" if close else f" (known: {', '.join(_PARSERS)})"
    return f"unknown setting{hint}"


def _fields(config: Config) -> dict[str, Any]:
    return {name: getattr(config, name) for name in Config.__dataclass_fields__}


def check_codes(value: Any) -> tuple[str, ...]:
    """Rule codes or prefixes (``GG101``, ``GG1``, ``ALL``), upper-cased; ValueError else."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f'expected a list of rule codes such as ["GG101", "GG3"], got {value!r}')
    codes = tuple(v.strip().upper() for v in value)
    bad = [c for c in codes if not _CODE_PREFIX.match(c)]
    if bad:
        raise ValueError(
            f"unknown rule code or prefix {', '.join(bad)} (codes look like GG101 or GG1, or ALL)"
        )
    return codes


def _globs(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a list of glob patterns, got {value!r}")
    return tuple(value)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _table(value: Any, entry) -> tuple:
    """Each entry parsed by ``entry(key, value)``; invalid entries are dropped and named."""
    if not isinstance(value, dict):
        raise ValueError(f"expected a table, got {value!r}")
    kept, problems = [], []
    for key, item in value.items():
        try:
            kept.append(entry(str(key), item))
        except ValueError as error:
            problems.append(f"{error} (entry ignored)")
    if problems:
        raise _PartlyInvalid(tuple(kept), problems)
    return tuple(kept)


def _per_file_ignores(value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    def entry(glob: str, codes: Any) -> tuple[str, tuple[str, ...]]:
        try:
            return glob, check_codes(codes)
        except ValueError as error:
            raise ValueError(f"{glob}: {error}") from None

    return _table(value, entry)


def _severity_entry(code: str, level: Any) -> tuple[str, Severity]:
    (checked,) = check_codes([code])
    allowed = ", ".join(s.value for s in Severity)
    if not isinstance(level, str) or level.lower() not in {s.value for s in Severity}:
        raise ValueError(f"severity of {checked} must be one of {allowed}, got {level!r}")
    return checked, Severity(level.lower())


def _severity(value: Any) -> tuple[tuple[str, Severity], ...]:
    return _table(value, _severity_entry)


def _max_file_bytes(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"expected a positive integer, got {value!r}")
    return value


def _docs_url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            "expected the base URL of the rule pages, such as "
            f'"https://example.org/gradguard/rules", got {value!r}'
        )
    return value.strip()


_PARSERS = {
    "select": check_codes,
    "extend-select": check_codes,
    "ignore": check_codes,
    "per-file-ignores": _per_file_ignores,
    "severity": _severity,
    "exclude": _globs,
    "extend-exclude": _globs,
    "force-exclude": _boolean,
    "respect-gitignore": _boolean,
    "max-file-bytes": _max_file_bytes,
    "docs-url": _docs_url,
}
KNOWN_KEYS = tuple(_PARSERS)


# -- finding and loading the file -------------------------------------------------------


def find_config(start: Path, memo: dict[Path, Path | None] | None = None) -> Path | None:
    """The configuration nearest to ``start`` (a file or directory): in each directory
    upwards, ``.gradguard.toml``, then ``gradguard.toml``, then a ``pyproject.toml``
    that has a ``[tool.gradguard]`` table (one without it is passed over).

    ``memo`` (directory -> answer) lets one command-line run walk each directory once;
    the server passes none, since files appear while it runs."""
    directory = start if start.is_dir() else start.parent
    passed: list[Path] = []
    found: Path | None = None
    for candidate in [directory, *directory.parents]:
        if memo is not None and candidate in memo:
            found = memo[candidate]
            break
        passed.append(candidate)
        found = _config_in(candidate)
        if found is not None:
            break
    if memo is not None:
        memo.update(dict.fromkeys(passed, found))
    return found


def _config_in(directory: Path) -> Path | None:
    for name in CONFIG_FILE_NAMES:
        if (directory / name).is_file():
            return directory / name
    pyproject = directory / "pyproject.toml"
    if pyproject.is_file() and _has_gradguard_table(pyproject):
        return pyproject
    return None


def _has_gradguard_table(path: Path) -> bool:
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return False
    return _has_table_at(str(path), stamp)


@lru_cache(maxsize=64)
def _has_table_at(path: str, _stamp: int) -> bool:
    """Parsed once per version of the file: the server asks on every analysis."""
    tomllib = _toml()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return True  # reported when loaded, rather than silently passed over
    tool = data.get("tool")
    return isinstance(tool, dict) and "gradguard" in tool


def load_config_file(path: Path) -> Config:
    """A ``pyproject.toml`` (its ``[tool.gradguard]``) or a ``gradguard.toml`` (top level)."""
    root = str(path.resolve().parent)
    tomllib = _toml()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        return Config(root=root, errors=(ConfigError(str(path), "", f"cannot read: {error}"),))
    except tomllib.TOMLDecodeError as error:
        return Config(root=root, errors=(ConfigError(str(path), "", f"invalid TOML: {error}"),))
    if path.name != "pyproject.toml":
        return config_from_mapping(data, str(path), root)
    tool = data.get("tool")
    section = tool.get("gradguard", {}) if isinstance(tool, dict) else {}
    return config_from_mapping(section, str(path), root)


def config_for(path: Path, memo: dict[Path, Path | None] | None = None) -> Config:
    resolved = path.resolve()
    found = find_config(resolved, memo)
    return load_config_file(found) if found else Config(root=str(resolved.parent))
