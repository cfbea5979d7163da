"""Output formats of ``gradguard check``.

Every format prints 1-based lines and columns (columns count Unicode code points),
sorted by path, position and code, so output is stable across runs. In a notebook,
lines are the cell's own and the cell number (1-based, counting every cell of the
notebook, as ruff does) is part of each location.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from gradguard.format_names import FORMAT_NAMES
from gradguard.output.report import FileReport, Located
from gradguard.output.text import format_statistics, summary_line

__all__ = [
    "HUMAN_FORMATS",
    "FileReport",
    "Located",
    "format_statistics",
    "formatter",
    "summary_line",
]

#: Each format's module and function: a run imports the one it prints.
_FORMATTERS: dict[str, tuple[str, str]] = {
    "concise": ("text", "format_concise"),
    "text": ("text", "format_concise"),  # the name of ``concise`` before 0.2
    "full": ("text", "format_full"),
    "json": ("machine", "format_json"),
    "json-lines": ("machine", "format_json_lines"),
    "junit": ("machine", "format_junit"),
    "gitlab": ("machine", "format_gitlab"),
    "sarif": ("sarif", "format_sarif"),
    "github": ("text", "format_github"),
}
assert tuple(_FORMATTERS) == FORMAT_NAMES  # the command line lists FORMAT_NAMES
#: Formats meant for people: a summary line goes to stderr after them.
HUMAN_FORMATS = frozenset({"concise", "text", "full"})


def formatter(name: str) -> Callable[[list[FileReport]], str]:
    """The function printing format ``name`` (one of :data:`FORMAT_NAMES`)."""
    module, function = _FORMATTERS[name]
    found: Callable[[list[FileReport]], str] = getattr(
        importlib.import_module(f"gradguard.output.{module}"), function
    )
    return found
