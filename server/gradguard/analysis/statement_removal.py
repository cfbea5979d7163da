"""Edits that remove or wrap one statement wherever it sits: on its own lines,
sharing a line with neighbours (``a = 1; b = 2``), on its block header's line
(``if c: x = 1``), spanning several lines, with tabs or CRLF line breaks.

Every edit here leaves code that parses; helpers return None where they cannot
promise that.
"""

from __future__ import annotations

import ast

from gradguard.findings import Span, TextEdit
from gradguard.source import SourceFile

_BLOCK_FIELDS = ("body", "orelse", "finalbody")


def containing_block(parents: dict[ast.AST, ast.AST], stmt: ast.stmt) -> list[ast.stmt] | None:
    """The statement list that holds ``stmt`` (a body, ``else``, handler or case)."""
    parent = parents.get(stmt)
    if parent is None:
        return None
    for field in _BLOCK_FIELDS:
        block = getattr(parent, field, None)
        if isinstance(block, list) and any(item is stmt for item in block):
            return block
    return None


def removal_edit(source: SourceFile, stmt: ast.stmt, block: list[ast.stmt]) -> TextEdit | None:
    """Delete ``stmt``; when it is the only statement of its block, leave ``pass``."""
    index = next((i for i, item in enumerate(block) if item is stmt), None)
    if index is None:
        return None
    span = source.span_of(stmt)
    if len(block) == 1:
        return TextEdit(span, "pass")
    following = block[index + 1] if index + 1 < len(block) else None
    previous = block[index - 1] if index > 0 else None
    last_line = stmt.end_lineno or stmt.lineno
    if following is not None and following.lineno == last_line:
        # ``stmt; following``: delete up to where the next statement starts.
        return TextEdit(Span(span.start, source.span_of(following).start), "")
    if previous is not None and (previous.end_lineno or previous.lineno) == stmt.lineno:
        # ``previous; stmt``: delete from the end of the previous statement.
        return TextEdit(Span(source.span_of(previous).end, span.end), "")
    if source.line_text(stmt.lineno - 1)[: span.start.column].strip():
        return None  # something else starts the line: do not guess
    return TextEdit(source.statement_lines(stmt), "")


def owns_its_lines(source: SourceFile, stmt: ast.stmt) -> bool:
    """Nothing but indentation before the statement, and nothing but a comment or a
    stray ``;`` after it: a compound statement may replace it."""
    span = source.span_of(stmt)
    if source.line_text(stmt.lineno - 1)[: span.start.column].strip():
        return False
    rest = source.line_text((stmt.end_lineno or stmt.lineno) - 1)[span.end.column :]
    rest = rest.strip().lstrip(";").strip()
    return not rest or rest.startswith("#")


def indent_unit(source: SourceFile, stmt: ast.stmt, parents: dict[ast.AST, ast.AST]) -> str:
    """One level of indentation as the file writes it around ``stmt``."""
    own = source.indentation_of(stmt.lineno - 1)
    parent = parents.get(stmt)
    if isinstance(parent, ast.stmt):
        outer = source.indentation_of(parent.lineno - 1)
        if own.startswith(outer) and len(own) > len(outer):
            return own[len(outer) :]
    if own.startswith("\t") or any(line.startswith("\t") for line in source.lines):
        return "\t"
    return "    "
