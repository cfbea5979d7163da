"""Text-edit building blocks for fixes: line ownership, indentation, statement
removal/insertion/move/re-indent, wrapping.

Every fix that rewrites whole statements builds its edits from these primitives, so
that indentation (spaces, tabs, the step of the enclosing block), line breaks
(``\\n``, ``\\r\\n``, ``\\r``, a last line without one), comments and multi-line
strings are handled in one place. Builders return ``None`` where they cannot promise
code that still parses; whether an edit is *meaningful* is the caller's decision.
Line numbers are 0-based, like :class:`~gradguard.source.SourceFile`'s.

Where a statement's text sits:

* :func:`starts_its_line`, :func:`ends_its_line`, :func:`owns_its_lines`: only
  indentation before it, only a comment after it (no ``a; b``, not the body of a
  one-line ``if x: b``). Checked before any edit that cuts, copies or wraps whole lines.
* :func:`owns_its_lines_or_semicolon`: the same, but a stray ``;`` may end the last
  line (``x = f();``). Kept apart on purpose: the rule that uses it replaces only the
  statement's own span (the ``;`` stays behind, still valid); the other callers keep the
  stricter check so that they offer exactly the fixes they offered before.
* :func:`first_line`, :func:`last_line`, :func:`attached_comment_start`,
  :func:`comment_lines`.

Building edits:

* :func:`indent_unit`: one indentation step, as the block around a statement writes it.
* :func:`reindented_lines`: a statement's lines moved to another indentation.
* :func:`insert_lines`, :func:`delete_lines`, :func:`insert_before_edit`,
  :func:`insert_after_edit`, :func:`insert_statements_after`.
* :func:`containing_block`, :func:`removal_edit` (any statement; ``None`` when unsure),
  :func:`owned_removal_edit` (a statement already checked with :func:`owns_its_lines`:
  never ``None``).
* :func:`move_statement`: cut a statement with its attached comments and paste it
  before or after another one, re-indented.
* :func:`wrap_in_if`: put a statement under ``if <condition>:``.

Typical use::

    edits = move_statement(source, creation_stmt, after=replacement_stmt)
    if edits is not None:
        fix = Fix("Move the optimizer creation below line 12", FixSafety.UNSAFE, edits)
"""

from __future__ import annotations

import ast
import bisect
import io
import re
import tokenize
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field

from gradguard.analysis import flow
from gradguard.findings import Position, Span, TextEdit
from gradguard.source import SourceFile

_COMMENT_LINE = re.compile(r"^[ \t]*#")
_BLOCK_FIELDS = ("body", "orelse", "finalbody")
_DEFAULT_UNIT = "    "


# -- where a statement's text starts and ends -------------------------------------------


def first_line(stmt: ast.stmt) -> int:
    """0-based first line, counting decorators."""
    decorators = getattr(stmt, "decorator_list", None) or []
    return min([stmt.lineno] + [d.lineno for d in decorators]) - 1


def last_line(stmt: ast.stmt) -> int:
    """0-based last line."""
    return (stmt.end_lineno or stmt.lineno) - 1


def starts_its_line(source: SourceFile, node: ast.AST) -> bool:
    """Only indentation (spaces, tabs) precedes the node on its first line: no ``a;``
    or ``if x:`` in front of it. A form feed there does not count as indentation: the
    indentation helpers could not re-indent such a line."""
    if getattr(node, "decorator_list", None):
        line = first_line(node)  # type: ignore[arg-type]
        return source.line_text(line).lstrip(" \t").startswith("@")
    start = source.span_of(node).start
    return source.line_text(start.line)[: start.column].strip(" \t") == ""


def ends_its_line(source: SourceFile, node: ast.AST) -> bool:
    """Only whitespace or a comment follows the node on its last line."""
    return _rest_of_last_line(source, node) in ("", "#")


def owns_its_lines(source: SourceFile, node: ast.AST) -> bool:
    """The node's lines hold nothing but the node (and comments): no ``;`` neighbour,
    not on a compound statement's header line."""
    return starts_its_line(source, node) and ends_its_line(source, node)


def owns_its_lines_or_semicolon(source: SourceFile, node: ast.AST) -> bool:
    """Like :func:`owns_its_lines`, but a stray ``;`` may follow the node (``x = f();
    # c``). Good enough for an edit that replaces only the node's own span: the ``;``
    stays behind the replacement, which still parses."""
    rest = _rest_of_last_line(source, node, semicolon=True)
    return starts_its_line(source, node) and rest in ("", "#")


def _rest_of_last_line(source: SourceFile, node: ast.AST, *, semicolon: bool = False) -> str:
    """What follows the node on its last line: ``""`` (nothing), ``"#"`` (a comment) or
    the other code itself."""
    end = source.span_of(node).end
    rest = source.line_text(end.line)[end.column :].strip(" \t\f")
    if semicolon and rest.startswith(";"):
        rest = rest[1:].strip(" \t\f")
    return "#" if rest.startswith("#") else rest


def attached_comment_start(source: SourceFile, stmt: ast.stmt) -> int:
    """0-based first line of the comment lines directly above ``stmt`` (no blank line
    between, same indentation): they describe the statement and travel with it."""
    line = first_line(stmt)
    indentation = source.indentation_of(line)
    comments = comment_lines(source)
    while line - 1 in comments and source.indentation_of(line - 1) == indentation:
        line -= 1
    return line


def comment_lines(source: SourceFile) -> _CommentLines:
    """0-based lines that hold only a comment (found by the tokenizer, so a ``#`` line
    inside a multi-line string is not one). Supports ``in``; tokenizes lazily."""
    return _CommentLines(source)


# -- indentation ---------------------------------------------------------------------


def indent_unit(source: SourceFile, stmt: ast.stmt) -> str:
    """One level of indentation as the file writes it around ``stmt``.

    Inside a block: the statement's indentation minus that of the block's header line
    (``if``, ``except``, ``case``, ...), as the tokenizer nests them. Elsewhere (module
    level, a one-line body): the file's own step, from its first indented block; four
    spaces when it has none."""
    layout = _layout(source)
    own = source.indentation_of(stmt.lineno - 1)
    outer = layout.outer_indentation(source, stmt.lineno - 1)
    if outer is not None and own.startswith(outer) and len(own) > len(outer):
        return own[len(outer) :]
    return layout.first_step(source) or _DEFAULT_UNIT


@dataclass(frozen=True)
class _ChunkLayout:
    """What one tokenizer pass says about some lines of a file."""

    comment_lines: frozenset[int] = frozenset()
    # 0-based first line of each logical line inside a block -> the block header's
    # indentation.
    outer_indentation: dict[int, str] = field(default_factory=dict)
    first_step: str | None = None


class _Layout:
    """A file's layout, tokenized one top-level statement at a time on demand (the
    tokenizer is pure Python: a whole 10,000-line file took 150 ms, and fixes need a
    few lines of it). Without statement boundaries, the whole file is one chunk."""

    # (It holds no reference to its SourceFile: it is the value of a weak-keyed cache.)

    def __init__(self, source: SourceFile) -> None:
        self.chunks = _chunks(source)
        self._starts = [first for first, _ in self.chunks]
        self._read: dict[int, _ChunkLayout] = {}

    def chunk_at(self, source: SourceFile, line: int) -> _ChunkLayout:
        index = max(bisect.bisect_right(self._starts, line) - 1, 0)
        if index not in self._read:
            self._read[index] = _read_layout(source, *self.chunks[index])
        return self._read[index]

    def outer_indentation(self, source: SourceFile, line: int) -> str | None:
        return self.chunk_at(source, line).outer_indentation.get(line)

    def first_step(self, source: SourceFile) -> str | None:
        for first, _ in self.chunks:  # the file's first indented block
            step = self.chunk_at(source, first).first_step
            if step is not None:
                return step
        return None


class _CommentLines:
    def __init__(self, source: SourceFile) -> None:
        self._source = source
        self._layout = _layout(source)

    def __contains__(self, line: object) -> bool:
        if not isinstance(line, int):
            return False
        return line in self._layout.chunk_at(self._source, line).comment_lines


def _chunks(source: SourceFile) -> list[tuple[int, int]]:
    """0-based (first, last) line ranges covering the file, each starting where the
    tokenizer is at top level: before a top-level statement (with the comments and
    blank lines above it), or after the last one."""
    last_line = len(source.lines) - 1
    statements = source.top_level_lines
    if not statements:
        return [(0, last_line)]
    chunks: list[tuple[int, int]] = []
    end = -1
    for first, last in statements:
        if chunks and first <= end:  # ``a = 1; b = 2``: one line, one chunk
            chunks[-1] = (chunks[-1][0], max(end, last))
        else:
            chunks.append((end + 1, last))
        end = max(end, last)
    if end < last_line:
        chunks.append((end + 1, last_line))
    return chunks


_LAYOUTS: weakref.WeakKeyDictionary[SourceFile, _Layout] = weakref.WeakKeyDictionary()


def file_indent_step(source: SourceFile) -> str | None:
    """The indentation step of the file's first indented block (what fixes at module
    level indent with); None when nothing is indented."""
    return _layout(source).first_step(source)


def _layout(source: SourceFile) -> _Layout:
    """The file's layout, one per :class:`SourceFile`."""
    try:
        return _LAYOUTS[source]
    except KeyError:
        layout = _LAYOUTS[source] = _Layout(source)
        return layout


def _read_layout(source: SourceFile, first: int, last: int) -> _ChunkLayout:
    comments: set[int] = set()
    outer: dict[int, str] = {}
    first_step: str | None = None
    levels = [""]
    at_line_start = True
    starts = source.line_starts
    text = source.text[starts[first] : starts[last + 1] if last + 1 < len(starts) else None]
    try:
        tokens = tokenize.generate_tokens(io.StringIO(text, newline=None).readline)
        for token in tokens:
            kind = token.type
            line = first + token.start[0] - 1
            if kind == tokenize.COMMENT and _COMMENT_LINE.match(token.line):
                comments.add(line)
            if kind == tokenize.INDENT:
                new = source.indentation_of(line)
                if first_step is None and new.startswith(levels[-1]) and new != levels[-1]:
                    first_step = new[len(levels[-1]) :]
                levels.append(new)
            elif kind == tokenize.DEDENT:
                if len(levels) > 1:
                    levels.pop()
            elif kind in (tokenize.NEWLINE, tokenize.ENDMARKER):
                at_line_start = True
            elif kind not in (tokenize.NL, tokenize.COMMENT) and at_line_start:
                at_line_start = False
                if len(levels) > 1:
                    outer[line] = levels[-2]
    except (tokenize.TokenError, SyntaxError, ValueError):
        # No comment travels rather than a wrong one; indentation falls back to 4 spaces.
        return _ChunkLayout()
    return _ChunkLayout(frozenset(comments), outer, first_step)


def has_multiline_string(node: ast.AST) -> bool:
    """A string or bytes literal (or f-string) inside ``node`` spans lines: re-indenting
    its lines would change the string's text."""
    return any(
        (child.end_lineno or child.lineno) > child.lineno  # type: ignore[attr-defined]
        for child in ast.walk(node)
        if isinstance(child, ast.JoinedStr)
        or (isinstance(child, ast.Constant) and isinstance(child.value, (str, bytes)))
    )


def reindented_lines(
    source: SourceFile,
    stmt: ast.stmt,
    indentation: str,
    *,
    first: int | None = None,
    last: int | None = None,
) -> str | None:
    """The text of lines ``first..last`` (default: the statement's own lines, decorators
    included), each with its own line break, moved from the statement's indentation to
    ``indentation``. A last line without a break gets the file's usual one.

    Lines that do not start with the statement's indentation (a continuation line inside
    brackets, a comment further left) and blank lines are kept as they are. ``None``
    when re-indenting would change a multi-line string."""
    first = first_line(stmt) if first is None else first
    last = last_line(stmt) if last is None else last
    old = source.indentation_of(first_line(stmt))
    lines = [source.line_text(n) for n in range(first, last + 1)]
    breaks = [line_break(source, n) for n in range(first, last + 1)]
    if old != indentation:
        if has_multiline_string(stmt):
            return None
        lines = [
            indentation + line[len(old) :] if line.startswith(old) and line.strip() else line
            for line in lines
        ]
    return "".join(line + brk for line, brk in zip(lines, breaks, strict=True))


def line_break(source: SourceFile, line: int) -> str:
    """The line's own break (``\\r\\n`` / ``\\r`` / ``\\n``), or the file's usual one for
    a last line that has none."""
    if line + 1 < len(source.line_starts):
        start = source.line_starts[line] + len(source.line_text(line))
        return source.text[start : source.line_starts[line + 1]]
    return source.newline


# -- inserting and deleting whole lines --------------------------------------------------


def insert_lines(source: SourceFile, line: int, text: str) -> TextEdit:
    """Insert complete lines (``text`` ends with a line break) before ``line``; past the
    end of a file whose last line has no break, after that line."""
    if line < len(source.lines):
        return TextEdit(Span(Position(line, 0), Position(line, 0)), text)
    end = source.line_end(len(source.lines) - 1)
    return TextEdit(Span(end, end), source.newline + text.rstrip("\r\n"))


def delete_lines(source: SourceFile, first: int, last: int) -> TextEdit:
    """Delete lines ``first..last`` with their line breaks (for a last line without
    one, the break that ends the line above)."""
    span = source.whole_lines(first, last)
    if last + 1 >= len(source.lines) and first > 0:
        span = Span(source.line_end(first - 1), span.end)
    return TextEdit(span, "")


def insert_before_edit(source: SourceFile, stmt: ast.stmt, text: str) -> TextEdit:
    """Insert whole lines ``text`` above the statement (above its decorators)."""
    return insert_lines(source, first_line(stmt), text)


def insert_after_edit(source: SourceFile, stmt: ast.stmt, text: str) -> TextEdit:
    """Insert whole lines ``text`` below the statement's last line."""
    return insert_lines(source, last_line(stmt) + 1, text)


def insert_statements_after(
    source: SourceFile, anchor: ast.stmt, statements: Sequence[str]
) -> TextEdit | None:
    """An edit that adds ``statements`` (each one logical line, without indentation or
    line break) on new lines after ``anchor``, at the anchor's indentation, with the
    file's line break. ``None`` when the anchor does not occupy whole lines (after
    ``if x: a = 1`` the new line would land outside the ``if``)."""
    if not statements or not owns_its_lines(source, anchor):
        return None
    indentation = source.indentation_of(first_line(anchor))
    text = "".join(indentation + statement + source.newline for statement in statements)
    return insert_lines(source, last_line(anchor) + 1, text)


# -- removing a statement ----------------------------------------------------------------


def containing_block(parents: dict[ast.AST, ast.AST], stmt: ast.stmt) -> list[ast.stmt] | None:
    """The statement list that holds ``stmt`` (a body, ``else``, handler or case)."""
    parent = parents.get(stmt)
    if parent is None:
        return None
    for name in _BLOCK_FIELDS:
        block = getattr(parent, name, None)
        if isinstance(block, list) and any(item is stmt for item in block):
            return block
    return None


def removal_edit(source: SourceFile, stmt: ast.stmt, block: list[ast.stmt]) -> TextEdit | None:
    """Delete ``stmt`` wherever it sits: its whole lines; only its own text when it
    shares a line through ``;`` (``a = 1; b = 2``); ``pass`` in its place when it is the
    only statement of its block (also on a header line: ``if c: pass``). ``None`` when
    ``stmt`` is not in ``block`` or something else starts its line."""
    index = next((i for i, item in enumerate(block) if item is stmt), None)
    if index is None:
        return None
    span = source.span_of(stmt)
    if len(block) == 1:
        return TextEdit(span, "pass")
    following = block[index + 1] if index + 1 < len(block) else None
    previous = block[index - 1] if index > 0 else None
    end_lineno = stmt.end_lineno or stmt.lineno
    if following is not None and following.lineno == end_lineno:
        # ``stmt; following``: delete up to where the next statement starts.
        return TextEdit(Span(span.start, source.span_of(following).start), "")
    if previous is not None and (previous.end_lineno or previous.lineno) == stmt.lineno:
        # ``previous; stmt``: delete from the end of the previous statement.
        return TextEdit(Span(source.span_of(previous).end, span.end), "")
    if source.line_text(stmt.lineno - 1)[: span.start.column].strip():
        return None  # something else starts the line: do not guess
    return TextEdit(source.statement_lines(stmt), "")


def owned_removal_edit(source: SourceFile, stmt: ast.stmt, block: list[ast.stmt]) -> TextEdit:
    """:func:`removal_edit` for a statement of ``block`` that the caller has already
    checked with :func:`owns_its_lines`, where it cannot fail."""
    edit = removal_edit(source, stmt, block)
    if edit is None:
        raise ValueError("the statement is not in the block or does not own its lines")
    return edit


# -- moving a statement ------------------------------------------------------------------


def move_statement(
    source: SourceFile,
    stmt: ast.stmt,
    *,
    before: ast.stmt | None = None,
    after: ast.stmt | None = None,
) -> tuple[TextEdit, ...] | None:
    """Edits that move ``stmt`` (with the comment lines attached above it, its trailing
    comment, every line of a multi-line call, its own line breaks) just ``before`` or
    just ``after`` another statement, re-indented to that statement's indentation.

    Give exactly one of ``before`` / ``after``. ``before`` lands above the destination's
    own attached comments. Returns ``None`` when the move cannot be done as clean text:
    either statement shares a line with other code, the destination lies inside the moved
    text, or re-indenting would change a multi-line string.
    """
    if (before is None) == (after is None):
        raise ValueError("give exactly one of before= or after=")
    destination = before if before is not None else after
    assert destination is not None
    if not owns_its_lines(source, stmt) or not starts_its_line(source, destination):
        return None
    if after is not None and not ends_its_line(source, after):
        return None
    cut_first, cut_last = attached_comment_start(source, stmt), last_line(stmt)
    if before is not None:
        insert_line = attached_comment_start(source, before)
    else:
        insert_line = _end_of_block_comments(source, destination)
    if cut_first <= insert_line <= cut_last + 1:
        return None  # the destination touches the moved text: nothing sensible to do
    indentation = source.indentation_of(first_line(destination))
    text = reindented_lines(source, stmt, indentation, first=cut_first, last=cut_last)
    if text is None:
        return None
    return (delete_lines(source, cut_first, cut_last), insert_lines(source, insert_line, text))


def _end_of_block_comments(source: SourceFile, stmt: ast.stmt) -> int:
    """The line after ``stmt``, past comment lines indented deeper than it (the closing
    comments of a compound statement's block belong to that block)."""
    indentation = source.indentation_of(first_line(stmt))
    comments = comment_lines(source)
    line = last_line(stmt) + 1
    while line in comments and len(source.indentation_of(line)) > len(indentation):
        line += 1
    return line


# -- wrapping a statement ----------------------------------------------------------------


def wrap_in_if(source: SourceFile, stmt: ast.stmt, condition: str) -> TextEdit | None:
    """An edit that puts ``stmt`` under ``if <condition>:``, or None when it cannot be
    done without changing other code: the statement binds a name (skipping it would
    leave the name undefined), shares a line, or holds a multi-line string."""
    if not _binds_nothing(stmt) or not owns_its_lines(source, stmt):
        return None
    first, last = first_line(stmt), last_line(stmt)
    indent = source.indentation_of(first)
    body = reindented_lines(source, stmt, indent + indent_unit(source, stmt))
    if body is None:
        return None
    if last + 1 >= len(source.lines):
        body = body[: -len(line_break(source, last))]  # the file's last line has no break
    text = f"{indent}if {condition}:{source.newline}{body}"
    return TextEdit(source.whole_lines(first, last), text)


def _binds_nothing(stmt: ast.stmt) -> bool:
    """An expression statement, or an assignment to attributes or items only: skipping it
    leaves no name undefined for the code after it."""
    if isinstance(stmt, ast.Expr):
        return not any(isinstance(n, ast.NamedExpr) for n in ast.walk(stmt))
    if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and stmt.value is not None:
        targets = flow.assigned_targets(stmt)
        return all(isinstance(t, (ast.Attribute, ast.Subscript)) for t in targets) and not any(
            isinstance(n, ast.NamedExpr) for n in ast.walk(stmt)
        )
    return False
