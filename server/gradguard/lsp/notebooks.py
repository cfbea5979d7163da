"""Notebook documents: the code cells of a notebook analysed as one program.

The cells are joined in notebook order, each starting on a new line, so a model
built in cell 1, its optimizer in cell 2 and a layer replaced in cell 3 are seen
as the script they are. Lines keep their columns; only line numbers shift, so
mapping a finding back to a cell is a lookup of the cell that holds its line.
IPython magics and shell escapes (``%time``, ``%%capture``, ``!pip``) become
``pass`` so that one magic does not hide the whole notebook from the analysis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gradguard.findings import Position, Span

_MAGIC = re.compile(r"^(\s*)(%%?|!)\S")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class CellSlice:
    uri: str
    version: int
    first_line: int  # first line of the cell in the joined program
    line_count: int
    last_line_length: int  # code points of the cell's last line (as the client has it)


@dataclass(frozen=True)
class NotebookProgram:
    text: str
    cells: tuple[CellSlice, ...]

    def cell_at_line(self, line: int) -> CellSlice | None:
        for cell in self.cells:
            if cell.first_line <= line < cell.first_line + cell.line_count:
                return cell
        return None

    def cell(self, uri: str) -> CellSlice | None:
        for cell in self.cells:
            if cell.uri == uri:
                return cell
        return None

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

    def from_cell(self, uri: str, position: Position) -> Position | None:
        cell = self.cell(uri)
        if cell is None:
            return None
        return Position(position.line + cell.first_line, position.column)


def build_program(cells: list[tuple[str, int, str]]) -> NotebookProgram:
    """``cells``: (uri, version, text) of the code cells, in notebook order."""
    parts: list[str] = []
    slices: list[CellSlice] = []
    line = 0
    for uri, version, text in cells:
        lines = _LINE_BREAK.split(text)
        cleaned = [_neutralise_magic(each) for each in lines]
        slices.append(CellSlice(uri, version, line, len(cleaned), len(lines[-1])))
        parts.extend(cleaned)
        line += len(cleaned)
    return NotebookProgram("\n".join(parts) + "\n", tuple(slices))


def _neutralise_magic(line: str) -> str:
    match = _MAGIC.match(line)
    if match is None:
        return line
    return f"{match.group(1)}pass"
