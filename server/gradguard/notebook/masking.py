"""IPython syntax in a notebook cell, masked so the cell parses as Python (ruff's rules).

A cell whose cell magic makes it another language (``%%bash``, ``%%writefile``) becomes
blank lines; the magics that run the cell's Python (``%%time``, ``%%capture``, ...) are
masked and the rest of the cell kept. Line magics, shell escapes and help
(``%matplotlib``, ``!pip install``, ``x = !ls``, ``x?``) become ``pass`` (or
``x = None``) at the start of a logical line only, so text inside strings and brackets
is never touched. Line numbers never change.
"""

from __future__ import annotations

import re

# Cell magics whose body is Python run by IPython (ruff's list).
_PYTHON_CELL_MAGICS = frozenset(
    {"capture", "debug", "prun", "pypy", "python", "python3", "time", "timeit"}
)
LINE_BREAK = re.compile(r"\r\n|\r|\n")
_CELL_MAGIC = re.compile(r"^\s*%%(\w*)")
# At the start of a logical line: a magic, shell escape or help request.
_ESCAPE = re.compile(r"^(\s*)(?:%|!|\?)")
_ASSIGNED_ESCAPE = re.compile(r"^(\s*)([A-Za-z_][\w.]*\s*=\s*)(?:%|!)")
# Automagics IPython runs without a ``%`` (a whole line such as ``pip install torch``).
_AUTOMAGIC = re.compile(
    r"^(\s*)(?:pip|conda|cd|mamba|uv)\s+(?!(?:and|or|if|else|in|is|not|for)\b)[\w-]"
)
_STRING_START = re.compile(r"(?i)(?:[rbuf]|rb|br|fr|rf)?('''|\"\"\"|'|\")")


def mask_cell(text: str) -> tuple[list[str], frozenset[int]]:
    """The cell's lines as Python, and the (0-based) lines that were masked."""
    lines = LINE_BREAK.split(text)
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None:
        magic = _CELL_MAGIC.match(lines[first])
        if magic and magic.group(1) not in _PYTHON_CELL_MAGICS:
            return [""] * len(lines), frozenset(range(len(lines)))
    masked: set[int] = set()
    result = list(lines)
    scanner = _LogicalLines()
    in_escape = False  # a masked line ended with a backslash: its continuation is masked too
    for index, line in enumerate(lines):
        if in_escape or (scanner.at_logical_start and _is_escape(line)):
            result[index] = "" if in_escape else _masked(line)
            masked.add(index)
            in_escape = line.rstrip().endswith("\\")
            continue
        scanner.feed(line)
    return result, frozenset(masked)


def _is_escape(line: str) -> bool:
    if _ESCAPE.match(line) or _ASSIGNED_ESCAPE.match(line) or _AUTOMAGIC.match(line):
        return True
    code = _code_part(line)
    return code is not None and code.rstrip().endswith("?")


def _masked(line: str) -> str:
    assigned = _ASSIGNED_ESCAPE.match(line)
    if assigned:
        return f"{assigned.group(1)}{assigned.group(2)}None"
    indent = line[: len(line) - len(line.lstrip())]
    return f"{indent}pass"


def _code_part(line: str) -> str | None:
    """The line without its comment, or None when a string opens or spans it."""
    index, length = 0, len(line)
    while index < length:
        char = line[index]
        if char == "#":
            return line[:index]
        if char in "'\"":
            quote = char * 3 if line.startswith(char * 3, index) else char
            end = line.find(quote, index + len(quote))
            if end < 0:
                return None
            index = end + len(quote)
            continue
        index += 1
    return line


class _LogicalLines:
    """Whether the next physical line starts a logical line (no open bracket, string or
    backslash continuation): only there can an IPython escape start."""

    def __init__(self) -> None:
        self.depth = 0
        self.open_string: str | None = None
        self.continued = False

    @property
    def at_logical_start(self) -> bool:
        return self.depth == 0 and self.open_string is None and not self.continued

    def feed(self, line: str) -> None:
        self.continued = False
        index, length = 0, len(line)
        while index < length:
            if self.open_string is not None:
                end = self._string_end(line, index)
                if end < 0:
                    return
                index, self.open_string = end, None
                continue
            char = line[index]
            if char == "#":
                return
            match = _STRING_START.match(line, index)
            if match and (index == 0 or not (line[index - 1].isalnum() or line[index - 1] == "_")):
                self.open_string = match.group(1)
                index = match.end()
                continue
            if char in "([{":
                self.depth += 1
            elif char in ")]}":
                self.depth = max(0, self.depth - 1)
            elif char == "\\" and index == length - 1:
                self.continued = True
            index += 1
        if self.open_string is not None and len(self.open_string) == 1 and not self.continued:
            self.open_string = None  # an unterminated one-line string: a syntax error anyway

    def _string_end(self, line: str, index: int) -> int:
        quote = self.open_string or ""
        while index < len(line):
            if line[index] == "\\":
                index += 2
                continue
            if line.startswith(quote, index):
                return index + len(quote)
            index += 1
        if len(quote) == 1 and not line.endswith("\\"):
            return len(line)
        return -1
