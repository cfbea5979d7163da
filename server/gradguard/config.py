"""``[tool.gradguard]`` configuration: loading, validation and rule selection.

Invalid values never stop a run: each problem becomes a :class:`ConfigError`
naming the file and key, and that key falls back to its default.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from gradguard.findings import Severity

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

_CODE_PREFIX = re.compile(r"^GG\d{0,3}$")
DEFAULT_MAX_FILE_BYTES = 2_000_000
KNOWN_KEYS = (
    "select",
    "ignore",
    "per-file-ignores",
    "severity",
    "exclude",
    "max-file-bytes",
    "docs-url",
)


@dataclass(frozen=True)
class ConfigError:
    file: str
    key: str
    message: str

    def __str__(self) -> str:
        key = f" [{self.key}]" if self.key else ""
        return f"{self.file}{key}: {self.message}"


@dataclass(frozen=True)
class Config:
    select: tuple[str, ...] = ("GG",)
    ignore: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    severity: tuple[tuple[str, Severity], ...] = ()
    exclude: tuple[str, ...] = ()
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    # Base of the rule links in CLI output (None: the packaged pages, gradguard.docs).
    docs_url: str | None = None
    # Directory that relative globs (exclude, per-file-ignores) are matched against.
    root: str = "."
    errors: tuple[ConfigError, ...] = field(default=(), compare=False)

    def is_enabled(self, code: str, path: str | None = None) -> bool:
        if not any(code.startswith(prefix) for prefix in self.select):
            return False
        if any(code.startswith(prefix) for prefix in self.ignore):
            return False
        if path is not None:
            for pattern, codes in self.per_file_ignores:
                if self._matches(path, pattern) and any(code.startswith(c) for c in codes):
                    return False
        return True

    def severity_for(self, code: str, default: Severity) -> Severity:
        return dict(self.severity).get(code, default)

    def is_excluded(self, path: str) -> bool:
        return any(self._matches(path, pattern) for pattern in self.exclude)

    def _matches(self, path: str, pattern: str) -> bool:
        pure = PurePath(path)
        try:
            relative = pure.relative_to(self.root).as_posix()
        except ValueError:
            relative = pure.as_posix()
        candidates = {relative, pure.name, pure.as_posix()}
        pattern = pattern.rstrip("/")
        return any(
            fnmatch.fnmatch(c, pattern) or fnmatch.fnmatch(c, pattern + "/*") for c in candidates
        ) or any(fnmatch.fnmatch(part, pattern) for part in PurePath(relative).parts[:-1])


def config_from_mapping(
    data: Any, origin: str, root: str = ".", base: Config | None = None
) -> Config:
    """Validate a ``[tool.gradguard]``-shaped mapping; bad keys keep ``base``'s values."""
    base = base or Config(root=root)
    errors: list[ConfigError] = []
    if not isinstance(data, dict):
        errors.append(ConfigError(origin, "", "expected a table of settings"))
        return Config(**{**_fields(base), "root": root, "errors": tuple(errors)})
    values = _fields(base)
    values["root"] = root
    for key, value in data.items():
        parser = _PARSERS.get(key)
        if parser is None:
            errors.append(
                ConfigError(origin, key, f"unknown setting (known: {', '.join(KNOWN_KEYS)})")
            )
            continue
        try:
            values[key.replace("-", "_")] = parser(value)
        except ValueError as error:
            errors.append(ConfigError(origin, key, str(error)))
    values["errors"] = tuple(errors)
    return Config(**values)


def _fields(config: Config) -> dict[str, Any]:
    return {name: getattr(config, name) for name in Config.__dataclass_fields__}


def _codes(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f'expected a list of rule codes such as ["GG101", "GG3"], got {value!r}')
    codes = tuple(v.strip().upper() for v in value)
    bad = [c for c in codes if not _CODE_PREFIX.match(c)]
    if bad:
        raise ValueError(
            f"unknown rule code or prefix {', '.join(bad)} (codes look like GG101 or GG1)"
        )
    return codes


def _globs(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a list of glob patterns, got {value!r}")
    return tuple(value)


def _per_file_ignores(value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, dict):
        raise ValueError(f"expected a table of glob = [codes], got {value!r}")
    return tuple((str(glob), _codes(codes)) for glob, codes in value.items())


def _severity(value: Any) -> tuple[tuple[str, Severity], ...]:
    if not isinstance(value, dict):
        raise ValueError(f"expected a table of code = severity, got {value!r}")
    result = []
    allowed = ", ".join(s.value for s in Severity)
    for code, level in value.items():
        (checked,) = _codes([code])
        if not isinstance(level, str) or level.lower() not in {s.value for s in Severity}:
            raise ValueError(f"severity of {code} must be one of {allowed}, got {level!r}")
        result.append((checked, Severity(level.lower())))
    return tuple(result)


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
    "select": _codes,
    "ignore": _codes,
    "per-file-ignores": _per_file_ignores,
    "severity": _severity,
    "exclude": _globs,
    "max-file-bytes": _max_file_bytes,
    "docs-url": _docs_url,
}


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start`` (a file or directory)."""
    directory = start if start.is_dir() else start.parent
    for candidate in [directory, *directory.parents]:
        path = candidate / "pyproject.toml"
        if path.is_file():
            return path
    return None


def load_pyproject(path: Path) -> Config:
    root = str(path.parent)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        return Config(root=root, errors=(ConfigError(str(path), "", f"cannot read: {error}"),))
    except tomllib.TOMLDecodeError as error:
        return Config(root=root, errors=(ConfigError(str(path), "", f"invalid TOML: {error}"),))
    section = (
        data.get("tool", {}).get("gradguard", {}) if isinstance(data.get("tool"), dict) else {}
    )
    return config_from_mapping(section, str(path), root)


def config_for(path: Path) -> Config:
    pyproject = find_pyproject(path.resolve())
    return load_pyproject(pyproject) if pyproject else Config(root=str(path.resolve().parent))
