"""Moving a whole statement elsewhere in the file, as a fix, without breaking it.

Several fixes reorder code ("create the optimizer after the replacement", "move the
``.to(device)`` above the optimizer", "hoist the construction out of the loop"). They
all need the same careful text surgery, which lives here:

* :func:`move_statement` builds the edits that cut a statement (with the comment lines
  attached above it, its trailing comment, every line of a multi-line call, its own line
  endings) and paste it just before or just after another statement, re-indented to the
  destination's indentation. It returns ``None`` whenever the move cannot be made
  correctly as text (the statement shares a line with another one through ``;`` or a
  one-line block body, a multi-line string would be re-indented, the two overlap).
* :func:`insert_statements_after` adds new statements after an existing one.
* :func:`names_read`, :func:`names_bound` and :func:`reads_dotted` answer the questions
  a caller must ask before moving code across other statements ("does anything between
  use the optimizer?", "does anything between rebind a name the statement reads?").
  Whether a move is *meaningful* is the caller's decision; this module only makes sure
  the text stays valid Python.

Typical use::

    edits = move_statement(source, creation_stmt, after=replacement_stmt)
    if edits is not None:
        fix = Fix("Move the optimizer creation below line 12", FixSafety.UNSAFE, edits)
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
import weakref
from collections.abc import Sequence

from gradguard.analysis import flow
from gradguard.findings import Position, Span, TextEdit
from gradguard.source import SourceFile

_COMMENT_LINE = re.compile(r"^[ \t]*#")


# -- where a statement's text starts and ends -------------------------------------------


def starts_its_line(source: SourceFile, stmt: ast.stmt) -> bool:
    """Only indentation precedes the statement on its first line (no ``a; b`` or
    ``if x: b`` in front of it)."""
    if getattr(stmt, "decorator_list", None):
        return source.line_text(first_line(stmt)).lstrip(" \t").startswith("@")
    start = source.span_of(stmt).start
    return source.line_text(start.line)[: start.column].strip(" \t") == ""


def ends_its_line(source: SourceFile, stmt: ast.stmt) -> bool:
    """Only whitespace or a comment follows the statement on its last line."""
    end = source.span_of(stmt).end
    rest = source.line_text(end.line)[end.column :].strip(" \t")
    return rest == "" or rest.startswith("#")


def occupies_whole_lines(source: SourceFile, stmt: ast.stmt) -> bool:
    """The statement's lines hold nothing but the statement (and comments)."""
    return starts_its_line(source, stmt) and ends_its_line(source, stmt)


def first_line(stmt: ast.stmt) -> int:
    """0-based first line, counting decorators."""
    decorators = getattr(stmt, "decorator_list", None) or []
    return min([stmt.lineno] + [d.lineno for d in decorators]) - 1


def last_line(stmt: ast.stmt) -> int:
    """0-based last line."""
    return (stmt.end_lineno or stmt.lineno) - 1


def attached_comment_start(source: SourceFile, stmt: ast.stmt) -> int:
    """0-based first line of the comment lines directly above ``stmt`` (no blank line
    between, same indentation): they describe the statement and travel with it."""
    line = first_line(stmt)
    indentation = source.indentation_of(line)
    comments = comment_lines(source)
    while line - 1 in comments and source.indentation_of(line - 1) == indentation:
        line -= 1
    return line


_COMMENT_LINES: weakref.WeakKeyDictionary[SourceFile, frozenset[int]] = weakref.WeakKeyDictionary()


def comment_lines(source: SourceFile) -> frozenset[int]:
    """0-based lines that hold only a comment (found by the tokenizer, so a ``#`` line
    inside a multi-line string is not one). Computed once per file."""
    cached = _COMMENT_LINES.get(source)
    if cached is None:
        found: set[int] = set()
        try:
            tokens = tokenize.generate_tokens(io.StringIO(source.text, newline=None).readline)
            for token in tokens:
                if token.type == tokenize.COMMENT and _COMMENT_LINE.match(token.line):
                    found.add(token.start[0] - 1)
        except (tokenize.TokenError, SyntaxError, ValueError):
            found = set()  # no comment travels rather than a wrong one
        cached = _COMMENT_LINES[source] = frozenset(found)
    return cached


# -- moving and inserting ----------------------------------------------------------------


def move_statement(
    source: SourceFile,
    stmt: ast.stmt,
    *,
    before: ast.stmt | None = None,
    after: ast.stmt | None = None,
) -> tuple[TextEdit, ...] | None:
    """Edits that move ``stmt`` (and its attached comments) just ``before`` or just
    ``after`` another statement, re-indented to that statement's indentation.

    Give exactly one of ``before`` / ``after``. ``before`` lands above the destination's
    own attached comments. Returns ``None`` when the move cannot be done as clean text:
    either statement shares a line with other code, the destination lies inside the moved
    text, or re-indenting would change a multi-line string.
    """
    if (before is None) == (after is None):
        raise ValueError("give exactly one of before= or after=")
    destination = before if before is not None else after
    assert destination is not None
    if not occupies_whole_lines(source, stmt) or not starts_its_line(source, destination):
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
    text = _reindented(
        source, stmt, cut_first, cut_last, source.indentation_of(first_line(destination))
    )
    if text is None:
        return None
    return (_delete_lines(source, cut_first, cut_last), _insert_lines(source, insert_line, text))


def insert_statements_after(
    source: SourceFile, anchor: ast.stmt, statements: Sequence[str]
) -> TextEdit | None:
    """An edit that adds ``statements`` (each one logical line, without indentation or
    line break) on new lines after ``anchor``, at the anchor's indentation, with the
    file's line break. ``None`` when the anchor does not occupy whole lines (after
    ``if x: a = 1`` the new line would land outside the ``if``)."""
    if not statements or not occupies_whole_lines(source, anchor):
        return None
    indentation = source.indentation_of(first_line(anchor))
    text = "".join(indentation + statement + source.newline for statement in statements)
    return _insert_lines(source, last_line(anchor) + 1, text)


def _end_of_block_comments(source: SourceFile, stmt: ast.stmt) -> int:
    """The line after ``stmt``, past comment lines indented deeper than it (the closing
    comments of a compound statement's block belong to that block)."""
    indentation = source.indentation_of(first_line(stmt))
    comments = comment_lines(source)
    line = last_line(stmt) + 1
    while line in comments and len(source.indentation_of(line)) > len(indentation):
        line += 1
    return line


def _reindented(
    source: SourceFile, stmt: ast.stmt, first: int, last: int, indentation: str
) -> str | None:
    """The text of lines ``first..last`` (each with its own line break), moved from the
    statement's indentation to ``indentation``."""
    old = source.indentation_of(first_line(stmt))
    lines = [source.line_text(n) for n in range(first, last + 1)]
    breaks = [_line_break(source, n) for n in range(first, last + 1)]
    if old != indentation:
        if _has_multiline_string(stmt):
            return None  # re-indenting would change the string's contents
        lines = [indentation + line[len(old) :] if line.startswith(old) else line for line in lines]
    return "".join(line + brk for line, brk in zip(lines, breaks, strict=True))


def _line_break(source: SourceFile, line: int) -> str:
    """The line's own break (``\\r\\n`` / ``\\r`` / ``\\n``), or the file's usual one for
    a last line that has none."""
    if line + 1 < len(source.line_starts):
        start = source.line_starts[line] + len(source.line_text(line))
        return source.text[start : source.line_starts[line + 1]]
    return source.newline


def _has_multiline_string(stmt: ast.stmt) -> bool:
    return any(
        (node.end_lineno or node.lineno) > node.lineno
        for node in ast.walk(stmt)
        if isinstance(node, ast.JoinedStr)
        or (isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)))
    )


def _delete_lines(source: SourceFile, first: int, last: int) -> TextEdit:
    span = source.whole_lines(first, last)
    if last + 1 >= len(source.lines) and first > 0:
        # The last line has no break: remove the break that ends the line above instead.
        span = Span(source.line_end(first - 1), span.end)
    return TextEdit(span, "")


def _insert_lines(source: SourceFile, line: int, text: str) -> TextEdit:
    """Insert complete lines (``text`` ends with a line break) before ``line``; past the
    end of a file whose last line has no break, after that line."""
    if line < len(source.lines):
        return TextEdit(Span(Position(line, 0), Position(line, 0)), text)
    end = source.line_end(len(source.lines) - 1)
    return TextEdit(Span(end, end), source.newline + text.rstrip("\r\n"))


# -- what statements read and bind -------------------------------------------------------


def names_read(node: ast.AST) -> set[str]:
    """Every plain name loaded anywhere inside ``node`` (nested functions included:
    calling them reads those names too)."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def names_bound(node: ast.AST) -> set[str]:
    """Every plain name that ``node`` (re)binds or deletes in its own scope: assignment
    and loop targets, ``with ... as``, walrus, imports, ``except ... as``,
    ``def``/``class`` names (not what nested functions bind inside themselves)."""
    bound: set[str] = set()
    stack: list[ast.AST] = [node]
    while stack:
        child = stack.pop()
        if isinstance(child, ast.Name) and isinstance(child.ctx, (ast.Store, ast.Del)):
            bound.add(child.id)
        elif isinstance(child, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in child.names)
        elif isinstance(child, ast.ExceptHandler) and child.name:
            bound.add(child.name)
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(child.name)
            if child is not node:
                continue
        if isinstance(child, ast.Lambda) and child is not node:
            continue
        stack.extend(ast.iter_child_nodes(child))
    return bound


def reads_dotted(node: ast.AST, dotted: str) -> bool:
    """``node`` loads ``dotted`` (``optimizer``, ``self.opt``) or something under it
    (``optimizer.step``). For a dotted name, a bare use of its root (``self`` passed
    along, ``self.train_step()``) also counts: it may reach the attribute."""
    root, _, rest = dotted.partition(".")
    parents: dict[ast.AST, ast.AST] | None = None
    for child in ast.walk(node):
        if not isinstance(child, ast.Name) or child.id != root:
            continue
        if not isinstance(child.ctx, ast.Load):
            continue
        if not rest:
            return True
        if parents is None:
            parents = {c: p for p in ast.walk(node) for c in ast.iter_child_nodes(p)}
        if _reaches(child, dotted, parents):
            return True
    return False


def _reaches(name: ast.Name, dotted: str, parents: dict[ast.AST, ast.AST]) -> bool:
    """Whether this load of the root of ``dotted`` may read ``dotted``."""
    chain: ast.AST = name
    while isinstance(parents.get(chain), ast.Attribute):
        chain = parents[chain]
        full = flow.dotted_name(chain) or ""
        if full == dotted or full.startswith(dotted + "."):
            return True
        if not dotted.startswith(full + "."):
            # Diverged (``self.model`` for ``self.opt``): harmless, unless it is a
            # method of the root object itself (``self.train_step()``), which may
            # read the attribute.
            parent = parents.get(chain)
            called = isinstance(parent, ast.Call) and parent.func is chain
            return called and full.count(".") == 1
    # The root itself (or a prefix of ``dotted``) is used whole: assume it reaches.
    return True
