"""Editor settings, and how they combine with ``[tool.gradguard]``.

Sources, lowest precedence first (a later source overrides an earlier one key
by key; a key a source does not set leaves the earlier value alone):

1. built-in defaults (every rule selected, default severities, ``run = "onType"``,
   ``debounceMs = 300``);
2. ``[tool.gradguard]`` in the ``pyproject.toml`` nearest to the file (``select``,
   ``ignore``, ``per-file-ignores``, ``severity``, ``exclude``, ``max-file-bytes``);
3. ``initializationOptions`` sent by the client at start (the ``gradguard``
   object, or the options object itself);
4. ``workspace/configuration`` section ``gradguard`` for the file's workspace
   folder (asked per folder, so multi-root workspaces can differ).

So the editor wins over the project file for ``select``, ``ignore`` and
``severity`` (like ruff's default ``editorFirst``): a person can switch a rule
off locally without editing the shared file. ``severity`` merges per code (a
project severity for GG105 survives an editor severity for GG201).
``per-file-ignores``, ``exclude`` and ``max-file-bytes`` come only from the
project file. ``# noqa`` comments always apply.

Editor-only keys: ``enable``, ``run`` (``onType``/``onSave``), ``debounceMs``,
``codeAction.disableRuleComment.enable``, ``interpreter`` (the Python environment
jedi resolves imports against: an executable or an environment directory),
``extraPaths`` (more import roots for jedi) and ``incremental`` (after an edit,
analyse only the definitions it can affect, and the whole file once typing
pauses; default true).

An invalid value never stops the server: the key keeps its previous value
(ultimately the default) and the problem, naming the key, is reported once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from gradguard.config import Config, config_from_mapping

SECTION = "gradguard"
RUN_MODES = ("onType", "onSave")
DEFAULT_DEBOUNCE_MS = 300
_KNOWN = (
    "enable",
    "select",
    "ignore",
    "severity",
    "run",
    "debounceMs",
    "codeAction",
    "interpreter",
    "extraPaths",
    "incremental",
)
# Settings that only the VS Code client uses (how to start the server, LSP tracing):
# clients may send the whole ``gradguard`` section, so these are accepted and ignored.
_CLIENT_ONLY = frozenset({"importStrategy", "trace", "path", "showNotifications"})


@dataclass(frozen=True)
class Settings:
    enable: bool = True
    # None: not set by the editor (the project file or the default applies).
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    severity: tuple[tuple[str, str], ...] = ()
    run: str = "onType"
    debounce_ms: int = DEFAULT_DEBOUNCE_MS
    disable_rule_comment: bool = True
    interpreter: str | None = None
    extra_paths: tuple[str, ...] = ()
    # After an edit, analyse only what it can affect; the whole file once typing pauses.
    incremental: bool = True
    errors: tuple[str, ...] = field(default=(), compare=False)

    def describe(self) -> dict[str, Any]:
        return {
            "enable": self.enable,
            "select": list(self.select) if self.select is not None else "(project/default)",
            "ignore": list(self.ignore) if self.ignore is not None else "(project/default)",
            "severity": dict(self.severity),
            "run": self.run,
            "debounceMs": self.debounce_ms,
            "codeAction.disableRuleComment.enable": self.disable_rule_comment,
            "interpreter": self.interpreter,
            "extraPaths": list(self.extra_paths),
            "incremental": self.incremental,
        }

    def apply_to(self, project: Config) -> Config:
        """The engine configuration for a file: the project's, overridden by the editor."""
        editor: dict[str, Any] = {}
        if self.select is not None:
            editor["select"] = list(self.select)
        if self.ignore is not None:
            editor["ignore"] = list(self.ignore)
        if self.severity:
            merged = {code: level.value for code, level in project.severity}
            merged.update(dict(self.severity))
            editor["severity"] = merged
        if not editor:
            return project
        combined = config_from_mapping(editor, "editor settings", project.root, base=project)
        return replace(combined, errors=project.errors + combined.errors)


def unwrap(options: Any) -> dict[str, Any]:
    """The ``gradguard`` object of initializationOptions or a settings payload."""
    if isinstance(options, dict):
        inner = options.get(SECTION)
        if isinstance(inner, dict):
            return inner
        return options
    return {}


def _flatten_dotted(raw: dict[str, Any]) -> dict[str, Any]:
    """Accept both ``{"codeAction": {"disableRuleComment": {"enable": x}}}`` and the
    VS Code flat form ``{"codeAction.disableRuleComment.enable": x}``."""
    result: dict[str, Any] = {}
    for key, value in raw.items():
        if "." in key:
            head, rest = key.split(".", 1)
            nested = result.setdefault(head, {})
            if isinstance(nested, dict):
                nested.update(_flatten_dotted({rest: value}))
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key].update(value)
        else:
            result[key] = value
    return result


def parse_settings(raw: Any, base: Settings | None = None, origin: str = "settings") -> Settings:
    """Validate an editor settings object over ``base``; bad keys keep base's value."""
    settings = base or Settings()
    errors: list[str] = list(settings.errors)
    if raw is None:
        return settings
    if not isinstance(raw, dict):
        return replace(settings, errors=(*errors, f"{origin}: expected an object, got {raw!r}"))
    values: dict[str, Any] = {}
    for key, value in _flatten_dotted(raw).items():
        if value is None:
            continue
        name = f"{SECTION}.{key}"
        try:
            if key == "enable":
                values["enable"] = _bool(value)
            elif key in ("select", "ignore"):
                checked = config_from_mapping({key: value}, origin)
                if checked.errors:
                    raise ValueError(checked.errors[0].message)
                values[key] = getattr(checked, key)
            elif key == "severity":
                checked = config_from_mapping({key: value}, origin)
                if checked.errors:
                    raise ValueError(checked.errors[0].message)
                values["severity"] = tuple((c, s.value) for c, s in checked.severity)
            elif key == "run":
                if value not in RUN_MODES:
                    raise ValueError(f"expected one of {', '.join(RUN_MODES)}, got {value!r}")
                values["run"] = value
            elif key == "debounceMs":
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise ValueError(f"expected a number of milliseconds >= 0, got {value!r}")
                values["debounce_ms"] = int(value)
            elif key == "codeAction":
                comment = value.get("disableRuleComment") if isinstance(value, dict) else None
                enable = comment.get("enable") if isinstance(comment, dict) else None
                if enable is None:
                    raise ValueError(
                        'expected {"disableRuleComment": {"enable": true|false}}, '
                        f"got {value!r}"
                    )
                name = f"{SECTION}.codeAction.disableRuleComment.enable"
                values["disable_rule_comment"] = _bool(enable)
            elif key == "interpreter":
                if isinstance(value, list) and len(value) == 1:
                    value = value[0]
                if not isinstance(value, str):
                    raise ValueError(f"expected a path to a Python executable, got {value!r}")
                values["interpreter"] = value or None
            elif key == "incremental":
                values["incremental"] = _bool(value)
            elif key == "extraPaths":
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError(f"expected a list of directories, got {value!r}")
                values["extra_paths"] = tuple(value)
            elif key not in _CLIENT_ONLY:
                raise ValueError(f"unknown setting (known: {', '.join(_KNOWN)})")
        except ValueError as error:
            errors.append(f"{origin}: {name}: {error}; using the previous value")
    return replace(settings, **values, errors=tuple(errors))


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value
