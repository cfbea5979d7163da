"""Output formats of ``gradguard check``.

Every format prints 1-based lines and columns (columns count Unicode code points),
sorted by path, position and code, so output is stable across runs. In a notebook,
lines are the cell's own and the cell number (1-based, counting every cell of the
notebook, as ruff does) is part of each location.
"""

from __future__ import annotations

from collections.abc import Callable

from gradguard.format_names import FORMAT_NAMES
from gradguard.output.machine import format_gitlab, format_json, format_json_lines, format_junit
from gradguard.output.report import FileReport, Located
from gradguard.output.sarif import format_sarif
from gradguard.output.text import (
    format_concise,
    format_full,
    format_github,
    format_statistics,
    summary_line,
)

__all__ = ["FORMATTERS", "FileReport", "Located", "format_statistics", "summary_line"]

FORMATTERS: dict[str, Callable[[list[FileReport]], str]] = {
    "concise": format_concise,
    "text": format_concise,  # the name of ``concise`` before 0.2
    "full": format_full,
    "json": format_json,
    "json-lines": format_json_lines,
    "junit": format_junit,
    "gitlab": format_gitlab,
    "sarif": format_sarif,
    "github": format_github,
}
assert tuple(FORMATTERS) == FORMAT_NAMES  # the command line lists FORMAT_NAMES
#: Formats meant for people: a summary line goes to stderr after them.
HUMAN_FORMATS = frozenset({"concise", "text", "full"})
