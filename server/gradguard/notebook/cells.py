"""Code cells joined into one program, and positions and edits mapped back to cells.

The cells are joined in notebook order, each starting on a new line, so a model built
in cell 1, its optimizer in cell 2 and a layer replaced in cell 3 are seen as the
script they are. Lines keep their columns; only line numbers shift, so mapping a
finding back to a cell is a lookup of the cell that holds its line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from gradguard.findings import Position, Span, TextEdit
from gradguard.notebook.masking import LINE_BREAK, mask_cell
from gradguard.source import apply_edits

FINAL_LINE_BREAK = re.compile(r"(\r\n|\r|\n)\Z")


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

    def to_cell(self, span: Span, *, editable: bool = False) -> tuple[CellSlice, Span] | None:
        """The cell holding ``span`` and the span in cell coordinates (None across cells;
        with ``editable``, also None when it touches a masked IPython line, whose text in
        the program is not the user's)."""
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
        local = Span(
            Position(span.start.line - offset, span.start.column),
            Position(end.line - offset, end.column),
        )
        if editable and _touches(local, cell.masked):
            return None
        return cell, local

    def from_cell(self, key: str, position: Position) -> Position | None:
        cell = self.cell(key)
        if cell is None:
            return None
        return Position(position.line + cell.first_line, position.column)


def _touches(span: Span, lines: frozenset[int]) -> bool:
    """Whether ``span`` covers text of one of ``lines`` (ending at column 0 of a line
    does not touch it)."""
    if not lines:
        return False
    last = span.end.line - (span.end.column == 0 and span.end.line > span.start.line)
    return any(line in lines for line in range(span.start.line, last + 1))


def join_cells(cells: Sequence[tuple[str, str]]) -> JoinedCells:
    """``cells``: (key, source) of the code cells, in notebook order."""
    parts: list[str] = []
    slices: list[CellSlice] = []
    line = 0
    for key, text in cells:
        lines, masked = mask_cell(text)
        last_length = len(LINE_BREAK.split(text)[-1])
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
    past_end: set[str] = set()  # cells an edit replaced through the separator after them
    for edit in edits:
        mapped = joined.to_cell(edit.span, editable=True)
        if mapped is None:
            return None
        cell, span = mapped
        new_text = _in_line_breaks_of(sources[cell.key], edit.new_text)
        per_cell.setdefault(cell.key, []).append(TextEdit(span, new_text))
        if edit.span.end.line >= cell.first_line + cell.line_count:
            past_end.add(cell.key)
    changed = dict(sources)
    for key, cell_edits in per_cell.items():
        changed[key] = apply_edits(sources[key], cell_edits)
        if key in past_end:
            # The replaced text ended with the program's line break between cells, which
            # the cell's own last line (as Jupyter saves it) does not have.
            changed[key] = without_final_line_break(changed[key])
    return changed


def _in_line_breaks_of(source: str, text: str) -> str:
    """``text`` with the line breaks ``source`` uses (a cell saved with CRLF keeps CRLF,
    as a fixed .py file does)."""
    match = LINE_BREAK.search(source)
    return LINE_BREAK.sub(match.group(), text) if match and match.group() != "\n" else text


def without_final_line_break(text: str) -> str:
    match = FINAL_LINE_BREAK.search(text)
    return text[: match.start()] if match else text


def apply_placeable(
    joined: JoinedCells, sources: dict[str, str], groups: Sequence[Sequence[TextEdit]]
) -> dict[str, str]:
    """Apply every group of edits (a fix's) that :func:`edit_cells` can place, all at
    once in ``joined``'s coordinates; groups that cannot be placed are left out."""
    placeable = [
        edit for group in groups if edit_cells(joined, sources, group) is not None for edit in group
    ]
    return edit_cells(joined, sources, placeable) or sources
