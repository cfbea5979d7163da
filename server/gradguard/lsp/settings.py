"""Editor settings, and how they combine with ``[tool.gradguard]``.

Sources, lowest precedence first (a later source overrides an earlier one key
by key; a key a source does not set leaves the earlier value alone):

1. built-in defaults (every rule selected, default severities, ``run = "onType"``,
   ``debounceMs = 300``);
2. the configuration file nearest to the file (``config.find_config``: a
   ``gradguard.toml`` or a ``pyproject.toml`` with ``[tool.gradguard]``), or the
   file named by ``configuration``;
3. ``initializationOptions`` sent by the client at start (the ``gradguard``
   object, or the options object itself);
4. ``workspace/configuration`` section ``gradguard`` for the file's workspace
   folder (asked per folder, so multi-root workspaces can differ).

So the editor wins over the project file (like ruff's default ``editorFirst``):
a person can switch a rule off locally without editing the shared file.
``select``/``ignore`` (and ``--extend-select`` in ``args``) are one more selection
layer over the project's, exactly as the command line's options are
(:func:`gradguard.config.with_rule_selection`): ``select`` replaces the project's
selection, ``ignore`` removes from it. ``severity`` merges per code (a project
severity for GG105 survives an editor severity for GG201); ``exclude`` adds to
the project's patterns (``extend-exclude``). ``per-file-ignores`` and
``max-file-bytes`` come only from the project file. ``# noqa`` comments always
apply.

``args`` takes the command line's options (``--select``, ``--ignore``,
``--extend-select``, ``--exclude``, ``--extend-exclude``, ``--config``) for people
who already run ``gradguard check`` with them; a named setting wins over the
same option in ``args``.

Editor-only keys: ``enable``, ``run`` (``onType``/``onSave``), ``debounceMs``,
``codeAction.disableRuleComment.enable``, ``interpreter`` (the Python environment
jedi resolves imports against: an executable or an environment directory),
``extraPaths`` (more import roots for jedi), ``incremental`` (after an edit,
analyse only the definitions it can affect, and the whole file once typing
pauses; default true), ``logLevel`` (the server's log), ``showNotifications``
(which problems also pop up: ``off``/``onError``/``onWarning``/``always``) and
``showSyntaxErrors`` (a diagnostic where the file does not parse).

Each key is one row of :data:`FIELDS`: its name, the type cattrs structures the
raw JSON value to (strictly: ``"yes"`` is not a boolean), and an optional check.
An invalid value never stops the server: the key keeps its previous value
(ultimately the default) and the problem, naming the key, is reported once.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import cattrs
from cattrs.errors import CattrsError

from gradguard.config import Config, check_codes, config_from_mapping, with_rule_selection
from gradguard.findings import Severity

SECTION = "gradguard"
RUN_MODES = ("onType", "onSave")
LOG_LEVELS = ("error", "warning", "info", "debug")
NOTIFICATIONS = ("off", "onError", "onWarning", "always")
DEFAULT_DEBOUNCE_MS = 300
# Settings that only the VS Code client uses (how to start the server, LSP tracing):
# clients may send the whole ``gradguard`` section, so these are accepted and ignored.
_CLIENT_ONLY = frozenset({"importStrategy", "trace", "path"})
# The message kinds each ``showNotifications`` value lets through (the rest are logged only).
_SHOWN = {"off": (), "onError": ("error",), "onWarning": ("error", "warning")}


@dataclass(frozen=True)
class Settings:
    enable: bool = True
    # None: not set by the editor (the project file or the default applies).
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    severity: tuple[tuple[str, str], ...] = ()
    exclude: tuple[str, ...] = ()
    # A configuration file used instead of the nearest pyproject.toml (relative: to the folder).
    configuration: str | None = None
    args: tuple[str, ...] = ()
    run: str = "onType"
    debounce_ms: int = DEFAULT_DEBOUNCE_MS
    disable_rule_comment: bool = True
    interpreter: str | None = None
    extra_paths: tuple[str, ...] = ()
    # After an edit, analyse only what it can affect; the whole file once typing pauses.
    incremental: bool = True
    log_level: str = "info"
    # onWarning: an invalid configuration is a silent failure unless it is shown.
    show_notifications: str = "onWarning"
    show_syntax_errors: bool = True
    errors: tuple[str, ...] = field(default=(), compare=False)

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {}
        for row in FIELDS:
            value = getattr(self, row.attr)
            if row.attr in ("select", "ignore") and value is None:
                value = "(project/default)"
            described[row.key] = list(value) if isinstance(value, tuple) else value
        described["severity"] = dict(self.severity)
        return described

    def shows(self, kind: str) -> bool:
        """Whether a problem of ``kind`` (error, warning, info) pops up in the editor."""
        allowed = _SHOWN.get(self.show_notifications)
        return allowed is None or kind in allowed

    def config_file(self, root: str) -> Path | None:
        """The ``configuration`` file, relative paths taken from the folder ``root``."""
        if not self.configuration:
            return None
        return Path(root, Path(self.configuration).expanduser())

    def apply_to(self, project: Config) -> Config:
        """The engine configuration for a file: the project's, overridden by the editor."""
        config = with_rule_selection(
            project, select=self.select, extend_select=self.extend_select, ignore=self.ignore or ()
        )
        if self.severity:
            merged = dict(project.severity)
            merged.update((code, Severity(level)) for code, level in self.severity)
            config = replace(config, severity=tuple(merged.items()))
        if self.exclude:
            config = replace(config, extend_exclude=(*config.extend_exclude, *self.exclude))
        return config


# -- the table of fields ---------------------------------------------------------------


@dataclass(frozen=True)
class SettingField:
    """One ``gradguard.<key>`` setting: the JSON value is structured to ``kind`` by
    cattrs, then ``check`` may validate further and returns the attributes to set."""

    key: str
    attr: str
    kind: Any
    expected: str
    check: Callable[[Any], dict[str, Any]] | None = None

    def parse(self, value: Any) -> dict[str, Any]:
        try:
            structured = _converter.structure(value, self.kind)
        except (cattrs.BaseValidationError, CattrsError, ValueError, TypeError, AttributeError):
            raise ValueError(f"expected {self.expected}, got {value!r}") from None
        return self.check(structured) if self.check else {self.attr: structured}


def _strict(kind: type) -> Callable[[Any, Any], Any]:
    """cattrs converts ``"yes"`` to True and ``"ab"`` to ("a", "b"); settings must not."""

    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise ValueError(value)
        return value

    return structure


def _strings(value: Any, _: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(value)
    return tuple(value)


_converter = cattrs.Converter()
for _kind in (bool, str, dict):
    _converter.register_structure_hook(_kind, _strict(_kind))
_converter.register_structure_hook(float, _strict(int | float))  # type: ignore[arg-type]
_converter.register_structure_hook_func(lambda kind: kind == tuple[str, ...], _strings)
# gradguard.interpreter: a path, or the VS Code client's one-element list.
_converter.register_structure_hook_func(
    lambda kind: kind == str | tuple[str, ...],
    lambda value, _: value if isinstance(value, str) else _strings(value, None),
)


class PartlyValid(ValueError):
    """Some entries of an object were invalid: ``values`` holds the valid ones."""

    def __init__(self, values: dict[str, Any], message: str) -> None:
        super().__init__(message)
        self.values = values


# Rule codes and severities are checked exactly as ``[tool.gradguard]`` checks them.


def _rule_codes(attr: str) -> Callable[[Any], dict[str, Any]]:
    return lambda value: {attr: check_codes(list(value))}


def _severities(value: dict[str, Any]) -> dict[str, Any]:
    checked = config_from_mapping({"severity": value}, "severity")
    values = {"severity": tuple((code, level.value) for code, level in checked.severity)}
    if checked.errors:
        raise PartlyValid(values, checked.errors[0].message)
    return values


def _milliseconds(value: float) -> dict[str, Any]:
    if value < 0:
        raise ValueError(f"expected a number of milliseconds >= 0, got {value!r}")
    return {"debounce_ms": int(value)}


def _interpreter(value: str | tuple[str, ...]) -> dict[str, Any]:
    value = (value,) if isinstance(value, str) else value
    if len(value) > 1:
        raise ValueError(f"expected a path to a Python executable, got {list(value)!r}")
    return {"interpreter": value[0] if value and value[0] else None}


def _optional_path(value: str) -> dict[str, Any]:
    return {"configuration": value.strip() or None}


class _ArgsParser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would print and exit
        raise ValueError(message)


def _args_parser() -> argparse.ArgumentParser:
    parser = _ArgsParser(prog="gradguard.args", add_help=False, allow_abbrev=False)
    for option in ("--select", "--ignore", "--extend-select", "--exclude", "--extend-exclude"):
        parser.add_argument(option, action="append", default=[])
    parser.add_argument("--config")
    return parser


_ARGS = _args_parser()
_ARGS_TAKEN = ", ".join(action.option_strings[0] for action in _ARGS._actions)


def _args(value: tuple[str, ...]) -> dict[str, Any]:
    """``gradguard check`` options, as the settings they stand for."""
    try:
        options = _ARGS.parse_args(list(value))
    except ValueError as error:
        raise ValueError(f"{error} (the editor takes {_ARGS_TAKEN})") from None

    def listed(raw: list[str]) -> list[str]:
        return [part.strip() for item in raw for part in item.split(",") if part.strip()]

    values: dict[str, Any] = {"args": value}
    for name in ("select", "ignore", "extend_select"):
        if getattr(options, name):
            values.update(_rule_codes(name)(listed(getattr(options, name))))
    if options.exclude or options.extend_exclude:
        values["exclude"] = tuple(listed(options.exclude + options.extend_exclude))
    if options.config:
        values["configuration"] = options.config
    return values


def _choice(*values: str) -> Any:
    return Literal[values]


FIELDS: tuple[SettingField, ...] = (
    # args first: a named setting below overrides the same option given in args.
    SettingField("args", "args", tuple[str, ...], "a list of command-line options", _args),
    SettingField("enable", "enable", bool, "true or false"),
    SettingField(
        "select", "select", tuple[str, ...], "a list of rule codes", _rule_codes("select")
    ),
    SettingField(
        "ignore", "ignore", tuple[str, ...], "a list of rule codes", _rule_codes("ignore")
    ),
    SettingField("severity", "severity", dict, "an object of code: severity", _severities),
    SettingField("exclude", "exclude", tuple[str, ...], "a list of glob patterns"),
    SettingField(
        "configuration", "configuration", str, "a path to a configuration file", _optional_path
    ),
    SettingField("run", "run", _choice(*RUN_MODES), f"one of {', '.join(RUN_MODES)}"),
    SettingField(
        "debounceMs", "debounce_ms", float, "a number of milliseconds >= 0", _milliseconds
    ),
    SettingField(
        "codeAction.disableRuleComment.enable", "disable_rule_comment", bool, "true or false"
    ),
    SettingField(
        "interpreter",
        "interpreter",
        str | tuple[str, ...],
        "a path to a Python executable",
        _interpreter,
    ),
    SettingField("extraPaths", "extra_paths", tuple[str, ...], "a list of directories"),
    SettingField("incremental", "incremental", bool, "true or false"),
    SettingField("logLevel", "log_level", _choice(*LOG_LEVELS), f"one of {', '.join(LOG_LEVELS)}"),
    SettingField(
        "showNotifications",
        "show_notifications",
        _choice(*NOTIFICATIONS),
        f"one of {', '.join(NOTIFICATIONS)}",
    ),
    SettingField("showSyntaxErrors", "show_syntax_errors", bool, "true or false"),
)
_BY_KEY = {row.key: row for row in FIELDS}
KNOWN_KEYS = tuple(_BY_KEY)


# -- parsing ----------------------------------------------------------------------------


def unwrap(options: Any) -> dict[str, Any]:
    """The ``gradguard`` object of initializationOptions or a settings payload."""
    if isinstance(options, dict):
        inner = options.get(SECTION)
        if isinstance(inner, dict):
            return inner
        return options
    return {}


def _flatten(raw: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Accept both ``{"codeAction": {"disableRuleComment": {"enable": x}}}`` and the
    VS Code flat form ``{"codeAction.disableRuleComment.enable": x}``; a known key's
    object value (``severity``) stays whole."""
    result: dict[str, Any] = {}
    for key, value in raw.items():
        name = f"{prefix}{key}"
        if name not in _BY_KEY and isinstance(value, dict) and name not in _CLIENT_ONLY:
            result.update(_flatten(value, name + "."))
        else:
            result[name] = value
    return result


def _ordered(raw: dict[str, Any]) -> list[tuple[str, Any]]:
    """Keys in table order (``args`` before the settings that override it), unknown last."""
    rank = {key: index for index, key in enumerate(KNOWN_KEYS)}
    return sorted(raw.items(), key=lambda item: rank.get(item[0], len(rank)))


def parse_settings(raw: Any, base: Settings | None = None, origin: str = "settings") -> Settings:
    """Validate an editor settings object over ``base``; bad keys keep base's value."""
    settings = base or Settings()
    errors: list[str] = list(settings.errors)
    if raw is None:
        return settings
    if not isinstance(raw, dict):
        return replace(settings, errors=(*errors, f"{origin}: expected an object, got {raw!r}"))
    values: dict[str, Any] = {}
    for key, value in _ordered(_flatten(raw)):
        if value is None or key.split(".")[0] in _CLIENT_ONLY:
            continue
        row = _BY_KEY.get(key)
        try:
            if row is None:
                raise ValueError(f"unknown setting (known: {', '.join(KNOWN_KEYS)})")
            values.update(row.parse(value))
        except PartlyValid as error:  # the valid entries apply, the others are reported
            values.update(error.values)
            errors.append(f"{origin}: {SECTION}.{key}: {error}; the other entries apply")
        except ValueError as error:
            errors.append(f"{origin}: {SECTION}.{key}: {error}; using the previous value")
    return replace(settings, **values, errors=tuple(errors))


def apply_log_level(settings: Settings) -> None:
    """The server's log (stderr, the editor's output channel) at ``logLevel``."""
    logging.getLogger("gradguard").setLevel(settings.log_level.upper())
