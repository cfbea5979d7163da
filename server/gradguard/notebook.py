"""Jupyter notebooks (nbformat 4) as one Python program, shared by the CLI and the server.

The code cells are joined in notebook order, each starting on a new line, so a model
built in cell 1, its optimizer in cell 2 and a layer replaced in cell 3 are seen as
the script they are. Lines keep their columns; only line numbers shift, so mapping a
finding back to a cell is a lookup of the cell that holds its line.

IPython syntax follows ruff: a cell whose cell magic makes it another language
(``%%bash``, ``%%writefile``) is left out (its lines are blank in the program); the
magics that run the cell's Python (``%%time``, ``%%capture``, ...) are masked and the
rest of the cell is analysed. Line magics, shell escapes and help (``%matplotlib``,
``!pip install``, ``x = !ls``, ``x?``) become ``pass`` (or ``x = None``) at the start of
a logical line only, so text inside strings and brackets is never touched.

Fixes are written back into the code cells' ``source`` only: the notebook's JSON is
rewritten at those spans and every other byte (outputs, metadata, indentation, key
order) is kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from gradguard.findings import Position, Span, TextEdit
from gradguard.source import apply_edits

NOTEBOOK_SUFFIX = ".ipynb"
# Cell magics whose body is Python run by IPython (ruff's list).
_PYTHON_CELL_MAGICS = frozenset(
    {"capture", "debug", "prun", "pypy", "python", "python3", "time", "timeit"}
)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_CELL_MAGIC = re.compile(r"^\s*%%(\w*)")
# At the start of a logical line: a magic, shell escape or help request.
_ESCAPE = re.compile(r"^(\s*)(?:%|!|\?)")
_ASSIGNED_ESCAPE = re.compile(r"^(\s*)([A-Za-z_][\w.]*\s*=\s*)(?:%|!)")
# Automagics IPython runs without a ``%`` (a whole line such as ``pip install torch``).
_AUTOMAGIC = re.compile(
    r"^(\s*)(?:pip|conda|cd|mamba|uv)\s+(?!(?:and|or|if|else|in|is|not|for)\b)[\w-]"
)
_STRING_START = re.compile(r"(?i)(?:[rbuf]|rb|br|fr|rf)?('''|\"\"\"|'|\")")


class NotebookError(ValueError):
    """The file is not a notebook this module can read (the message says why)."""


# -- IPython masking ------------------------------------------------------------------


def mask_cell(text: str) -> tuple[list[str], frozenset[int]]:
    """The cell's lines as Python, and the (0-based) lines that were masked."""
    lines = _LINE_BREAK.split(text)
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


# -- joining cells and mapping positions ----------------------------------------------


@dataclass(frozen=True)
class CellSlice:
    key: str  # the cell's identity: a cell document URI (server), its index (CLI)
    first_line: int  # first line of the cell in the joined program
    line_count: int
    last_line_length: int  # code points of the cell's last line
    masked: frozenset[int] = frozenset()  # cell lines that are IPython, not Python


@dataclass(frozen=True)
class JoinedCells:
    text: str
    cells: tuple[CellSlice, ...]

    def cell_at_line(self, line: int) -> CellSlice | None:
        for cell in self.cells:
            if cell.first_line <= line < cell.first_line + cell.line_count:
                return cell
        return None

    def cell(self, key: str) -> CellSlice | None:
        return next((cell for cell in self.cells if cell.key == key), None)

    def to_cell(self, span: Span) -> tuple[CellSlice, Span] | None:
        """The cell holding ``span`` and the span in cell coordinates (None across cells)."""
        cell = self.cell_at_line(span.start.line)
        if cell is None:
            return None
        last = cell.first_line + cell.line_count - 1
        end = span.end
        if end.line > last:
            # A span ending at the start of the next cell's first line (a whole-line
            # edit of the cell's last line) ends at the end of this cell.
            if not (end.line == last + 1 and end.column == 0):
                return None
            end = Position(last, cell.last_line_length)
        offset = cell.first_line
        return cell, Span(
            Position(span.start.line - offset, span.start.column),
            Position(end.line - offset, end.column),
        )

    def from_cell(self, key: str, position: Position) -> Position | None:
        cell = self.cell(key)
        if cell is None:
            return None
        return Position(position.line + cell.first_line, position.column)


def join_cells(cells: Sequence[tuple[str, str]]) -> JoinedCells:
    """``cells``: (key, source) of the code cells, in notebook order."""
    parts: list[str] = []
    slices: list[CellSlice] = []
    line = 0
    for key, text in cells:
        lines, masked = mask_cell(text)
        last_length = len(_LINE_BREAK.split(text)[-1])
        slices.append(CellSlice(key, line, len(lines), last_length, masked))
        parts.extend(lines)
        line += len(lines)
    return JoinedCells("\n".join(parts) + "\n", tuple(slices))


def edit_cells(
    joined: JoinedCells, sources: dict[str, str], edits: Sequence[TextEdit]
) -> dict[str, str] | None:
    """``sources`` with ``edits`` (in joined coordinates) applied to their cells; None
    when an edit crosses cells or touches a masked IPython line."""
    per_cell: dict[str, list[TextEdit]] = {}
    for edit in edits:
        mapped = joined.to_cell(edit.span)
        if mapped is None:
            return None
        cell, span = mapped
        last = span.end.line - (span.end.column == 0 and span.end.line > span.start.line)
        if any(line in cell.masked for line in range(span.start.line, last + 1)):
            return None
        per_cell.setdefault(cell.key, []).append(TextEdit(span, edit.new_text))
    changed = dict(sources)
    for key, cell_edits in per_cell.items():
        changed[key] = apply_edits(sources[key], cell_edits)
    return changed


def apply_placeable(
    joined: JoinedCells, sources: dict[str, str], groups: Sequence[Sequence[TextEdit]]
) -> dict[str, str]:
    """Apply every group of edits (a fix's) that :func:`edit_cells` can place, all at
    once in ``joined``'s coordinates; groups that cannot be placed are left out."""
    placeable = [
        edit for group in groups if edit_cells(joined, sources, group) is not None for edit in group
    ]
    return edit_cells(joined, sources, placeable) or sources


# -- the .ipynb file ------------------------------------------------------------------


@dataclass(frozen=True)
class Notebook:
    raw: str  # the file's text (a UTF-8 BOM is kept in ``prefix``)
    prefix: str
    # Code cells: key (the 1-based cell number, as text) -> source.
    sources: dict[str, str]
    # Where each code cell's ``source`` value is in ``raw`` and whether it is a list.
    spans: dict[str, tuple[int, int, bool]]

    def joined(self) -> JoinedCells:
        return join_cells(list(self.sources.items()))

    def with_sources(self, sources: dict[str, str]) -> str:
        """The file's text with changed cell sources; every other byte as it was."""
        pieces, cursor = [self.prefix], 0
        for key, (start, end, as_list) in sorted(self.spans.items(), key=lambda i: i[1][0]):
            if sources[key] == self.sources[key]:
                continue
            pieces.append(self.raw[cursor:start])
            pieces.append(self._render(sources[key], start, end, as_list))
            cursor = end
        pieces.append(self.raw[cursor:])
        return "".join(pieces)

    def _render(self, source: str, start: int, end: int, as_list: bool) -> str:
        ascii_only = self.raw.isascii() and "\\u" in self.raw

        def dump(text: str) -> str:
            return json.dumps(text, ensure_ascii=ascii_only)

        if not as_list:
            return dump(source)
        lines = source.splitlines(keepends=True)
        if not lines:
            return "[]"
        lead, separator, tail = self._list_layout(start, end)
        return "[" + lead + separator.join(dump(line) for line in lines) + tail + "]"

    def _list_layout(self, start: int, end: int) -> tuple[str, str, str]:
        """The whitespace after ``[``, between elements and before ``]`` of the list at
        ``raw[start:end]`` (for an empty list: what an indented file would use)."""
        elements = _elements(self.raw, start)
        if not elements:
            if "\n" not in self.raw.strip():
                return "", ", ", ""
            indent = _indentation_at(self.raw, start)
            return f"\n{indent} ", f",\n{indent} ", f"\n{indent}"
        lead = self.raw[start + 1 : elements[0][0]]
        tail = self.raw[elements[-1][1] : end - 1]
        if len(elements) > 1:
            separator = self.raw[elements[0][1] : elements[1][0]]
        else:
            separator = "," + lead if "\n" in lead else ", "
        return lead, separator, tail


def _indentation_at(raw: str, index: int) -> str:
    """The indentation of the line holding ``raw[index]``."""
    line = raw[raw.rfind("\n", 0, index) + 1 : index]
    return line[: len(line) - len(line.lstrip(" \t"))]


def parse_notebook(text: str) -> Notebook:
    """Read an nbformat 4 notebook; raises NotebookError with a message for the user."""
    prefix = "\ufeff" if text.startswith("\ufeff") else ""
    raw = text[len(prefix) :]
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise NotebookError(
            f"{error.lineno}:{error.colno}: not a valid notebook: invalid JSON ({error.msg})"
        ) from None
    cells = data.get("cells") if isinstance(data, dict) else None
    if not isinstance(cells, list):
        raise NotebookError("1:1: not a valid notebook: no `cells` list (nbformat 4 expected)")
    if _language(data) not in ("python", None):
        raise NotebookError(f"1:1: notebook skipped: its language is {_language(data)}, not Python")
    sources: dict[str, str] = {}
    spans: dict[str, tuple[int, int, bool]] = {}
    for number, (cell, span) in enumerate(zip(cells, _cell_source_spans(raw), strict=False), 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code" or span is None:
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if not isinstance(source, str):
            continue
        sources[str(number)] = source
        spans[str(number)] = (span[0], span[1], raw[span[0]] == "[")
    return Notebook(raw, prefix, sources, spans)


def _language(data: dict) -> str | None:
    metadata = data.get("metadata")
    info = metadata.get("language_info") if isinstance(metadata, dict) else None
    name = info.get("name") if isinstance(info, dict) else None
    return name.lower() if isinstance(name, str) else None


# A scanner of JSON text that reports where values are, which ``json`` does not.
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _skip(raw: str, index: int) -> int:
    match = _WHITESPACE.match(raw, index)
    return match.end() if match else index


def _members(raw: str, index: int) -> list[tuple[str, int, int]]:
    """(key, value start, value end) of the object starting at ``raw[index]``."""
    found: list[tuple[str, int, int]] = []
    index = _skip(raw, index + 1)
    while raw[index] == '"':
        key, index = json.decoder.scanstring(raw, index + 1)  # type: ignore[attr-defined]
        index = _skip(raw, _skip(raw, index) + 1)  # past the colon
        end = _DECODER.raw_decode(raw, index)[1]
        found.append((key, index, end))
        index = _skip(raw, end)
        if raw[index] == ",":
            index = _skip(raw, index + 1)
    return found


def _elements(raw: str, index: int) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    index = _skip(raw, index + 1)
    while raw[index] != "]":
        end = _DECODER.raw_decode(raw, index)[1]
        found.append((index, end))
        index = _skip(raw, end)
        if raw[index] == ",":
            index = _skip(raw, index + 1)
    return found


def _cell_source_spans(raw: str) -> list[tuple[int, int] | None]:
    start = _skip(raw, 0)
    found = [m for m in _members(raw, start) if m[0] == "cells"]
    if not found:
        return []
    cells = found[-1]  # as json.loads, the last of duplicate keys wins
    spans: list[tuple[int, int] | None] = []
    for cell_start, _ in _elements(raw, cells[1]):
        if raw[cell_start] != "{":
            spans.append(None)
            continue
        source = [m for m in _members(raw, cell_start) if m[0] == "source"]
        spans.append((source[-1][1], source[-1][2]) if source else None)
    return spans
