"""Source text with the position arithmetic every other layer needs.

Lines end at ``\\r\\n``, ``\\r`` or ``\\n`` (what both Python's tokenizer and LSP
accept). ``ast`` reports columns as UTF-8 byte offsets; everything here speaks
code-point columns (see :mod:`gradguard.findings`).
"""

from __future__ import annotations

import ast
import re
import unicodedata
from functools import cached_property

from gradguard.findings import Position, Span, TextEdit

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def searchable_text(text: str) -> str:
    """``text`` with identifiers spelled as Python reads them: a full-width ``ｇｒａｄ``
    is the identifier ``grad`` (PEP 3131), so a search for spellings must see it so."""
    if text.isascii() or unicodedata.is_normalized("NFKC", text):
        return text  # both checks run in C; most non-ASCII files are already normal
    return unicodedata.normalize("NFKC", text)


class SourceFile:
    def __init__(self, text: str, path: str = "<stdin>") -> None:
        self.text = text
        self.path = path
        # 0-based (first, last) lines of each top-level statement (decorators
        # included), set by whoever parsed the text: the tokenizer state is the same at
        # the start of each, so fixes tokenize only the statements they touch.
        self.top_level_lines: list[tuple[int, int]] | None = None

    @cached_property
    def searchable_text(self) -> str:
        """The text as Python reads identifiers (NFKC-normalised unless ASCII): what
        checks for a spelling (``"requires_grad" in ...``) must search."""
        return searchable_text(self.text)

    @cached_property
    def line_starts(self) -> list[int]:
        return [0] + [m.end() for m in _LINE_BREAK.finditer(self.text)]

    @cached_property
    def lines(self) -> list[str]:
        """Lines without their line break."""
        return _LINE_BREAK.split(self.text)

    @cached_property
    def newline(self) -> str:
        match = _LINE_BREAK.search(self.text)
        return match.group() if match else "\n"

    def line_text(self, line: int) -> str:
        return self.lines[line] if 0 <= line < len(self.lines) else ""

    def line_end(self, line: int) -> Position:
        return Position(line, len(self.line_text(line)))

    # -- conversions ---------------------------------------------------------

    def position_from_ast(self, lineno: int, col_offset: int) -> Position:
        """Convert ast's 1-based line and UTF-8 byte column."""
        line = lineno - 1
        text = self.line_text(line)
        if text.isascii():
            return Position(line, col_offset)
        prefix = text.encode("utf-8", "surrogatepass")[:col_offset]
        return Position(line, len(prefix.decode("utf-8", "replace")))

    def span_of(self, node: ast.AST) -> Span:
        start = self.position_from_ast(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end_lineno = getattr(node, "end_lineno", None) or node.lineno  # type: ignore[attr-defined]
        end_col = getattr(node, "end_col_offset", None)
        end = self.position_from_ast(end_lineno, end_col) if end_col is not None else start
        return Span(start, end)

    def offset(self, position: Position) -> int:
        """Character offset of a position, clamped into the text."""
        if position.line < 0:
            return 0
        if position.line >= len(self.line_starts):
            return len(self.text)
        column = min(max(position.column, 0), len(self.line_text(position.line)))
        return self.line_starts[position.line] + column

    def position_at(self, offset: int) -> Position:
        offset = min(max(offset, 0), len(self.text))
        lo, hi = 0, len(self.line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.line_starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return Position(lo, offset - self.line_starts[lo])

    def segment(self, span: Span) -> str:
        return self.text[self.offset(span.start) : self.offset(span.end)]

    def node_text(self, node: ast.AST) -> str:
        return self.segment(self.span_of(node))

    def indentation_of(self, line: int) -> str:
        text = self.line_text(line)
        return text[: len(text) - len(text.lstrip(" \t"))]

    # -- edit helpers used by fixes -----------------------------------------

    def whole_lines(self, first: int, last: int) -> Span:
        """The span of lines ``first..last`` including the final line break."""
        end = Position(last + 1, 0) if last + 1 < len(self.lines) else self.line_end(last)
        return Span(Position(first, 0), end)

    def statement_lines(self, node: ast.stmt) -> Span:
        return self.whole_lines(node.lineno - 1, (node.end_lineno or node.lineno) - 1)

    def replace(self, node: ast.AST, new_text: str) -> TextEdit:
        return TextEdit(self.span_of(node), new_text)

    def insert_at(self, position: Position, new_text: str) -> TextEdit:
        return TextEdit(Span(position, position), new_text)


def apply_edits(text: str, edits: list[TextEdit] | tuple[TextEdit, ...]) -> str:
    """Apply non-overlapping edits; raises ValueError when two overlap."""
    source = SourceFile(text)
    resolved = sorted(
        ((source.offset(e.span.start), source.offset(e.span.end), e.new_text) for e in edits),
        key=lambda item: (item[0], item[1]),
    )
    pieces: list[str] = []
    cursor = 0
    for start, end, new_text in resolved:
        if start < cursor:
            raise ValueError("overlapping edits")
        pieces.append(text[cursor:start])
        pieces.append(new_text)
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)
