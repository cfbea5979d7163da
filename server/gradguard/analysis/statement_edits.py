"""Text edits that move or remove whole statements, and the checks that say when
such an edit is safe to build (the statement owns its lines, it can be re-indented).

Fixes that reorder statements share these so that indentation, tabs and line
endings are handled in one place.
"""

from __future__ import annotations

import ast

from gradguard.analysis import flow
from gradguard.findings import Position, TextEdit
from gradguard.source import SourceFile


def owns_its_lines(source: SourceFile, stmt: ast.stmt, block: list[ast.stmt]) -> bool:
    """The statement starts its first line, ends its last one (a comment may follow),
    and shares no line with a neighbour (``a = 1; b = 2``)."""
    first, last = stmt.lineno - 1, (stmt.end_lineno or stmt.lineno) - 1
    span = source.span_of(stmt)
    if source.line_text(first)[: span.start.column].strip():
        return False
    rest = source.line_text(last)[span.end.column :].strip()
    if rest and not rest.startswith("#"):
        return False
    for other in block:
        if other is stmt:
            continue
        other_first, other_last = other.lineno - 1, (other.end_lineno or other.lineno) - 1
        if other_first <= last and first <= other_last:
            return False
    return True


def has_multiline_string(node: ast.AST) -> bool:
    """Re-indenting would change the text of a string literal that spans lines."""
    for child in ast.walk(node):
        is_text = isinstance(child, ast.JoinedStr) or (
            isinstance(child, ast.Constant) and isinstance(child.value, (str, bytes))
        )
        if is_text and (child.end_lineno or child.lineno) != child.lineno:  # type: ignore[attr-defined]
            return True
    return False


def reindented_lines(source: SourceFile, stmt: ast.stmt, indent: str) -> str | None:
    """The statement's lines (with their line breaks) moved to ``indent``, or None
    when a line does not start with the statement's own indentation."""
    if has_multiline_string(stmt):
        return None
    first, last = stmt.lineno - 1, (stmt.end_lineno or stmt.lineno) - 1
    old_indent = source.indentation_of(first)
    lines = []
    for line in range(first, last + 1):
        text = source.line_text(line)
        if not text.strip():
            lines.append("")
        elif text.startswith(old_indent):
            lines.append(indent + text[len(old_indent) :])
        else:
            return None
    return "".join(line + source.newline for line in lines)


def removal_edit(source: SourceFile, stmt: ast.stmt, block: list[ast.stmt]) -> TextEdit:
    """Delete the statement's lines; leave ``pass`` when it is alone in its block."""
    span = source.statement_lines(stmt)
    if len(block) == 1:
        indent = source.indentation_of(stmt.lineno - 1)
        return TextEdit(span, f"{indent}pass{source.newline}")
    return TextEdit(span, "")


def insert_before_edit(source: SourceFile, stmt: ast.stmt, text: str) -> TextEdit:
    """Insert whole lines ``text`` above the statement's first line."""
    return source.insert_at(Position(stmt.lineno - 1, 0), text)


def insert_after_edit(source: SourceFile, stmt: ast.stmt, text: str) -> TextEdit | None:
    """Insert whole lines ``text`` below the statement's last line."""
    last = (stmt.end_lineno or stmt.lineno) - 1
    if last + 1 >= len(source.lines):
        # No line break after the statement: add one first.
        return source.insert_at(source.line_end(last), source.newline + text.rstrip("\r\n"))
    return source.insert_at(Position(last + 1, 0), text)


# -- names ---------------------------------------------------------------------------


def loaded_chains(node: ast.AST) -> set[str]:
    """Dotted names read by ``node`` (``model.fc.parameters``, ``lr``), maximal chains."""
    chains: set[str] = set()
    inner: set[int] = set()
    for child in flow.walk_local(node):
        if isinstance(child, ast.Attribute) and id(child) not in inner:
            name = flow.dotted_name(child)
            if name:
                chains.add(name)
                value: ast.AST = child.value
                while isinstance(value, ast.Attribute):
                    inner.add(id(value))
                    value = value.value
                inner.add(id(value))
        elif (
            isinstance(child, ast.Name)
            and id(child) not in inner
            and isinstance(child.ctx, ast.Load)
        ):
            chains.add(child.id)
    return chains


def bound_chains(stmt: ast.stmt) -> set[str]:
    """Dotted names a statement (headers only for compound ones) binds or rebinds,
    including walrus targets and imports."""
    bound = {name for t in flow.assigned_targets(stmt) if (name := flow.dotted_name(t))}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        bound |= {(a.asname or a.name).split(".")[0] for a in stmt.names}
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        bound.add(stmt.name)
    if isinstance(stmt, ast.Delete):
        bound |= {name for t in stmt.targets if (name := flow.dotted_name(t))}
    for node in flow.own_nodes(stmt):
        if isinstance(node, ast.NamedExpr):
            bound.add(node.target.id)
    return bound


def chains_overlap(first: str, second: str) -> bool:
    """``model`` and ``model.fc.weight`` overlap (one is a prefix of the other)."""
    a, b = first.split("."), second.split(".")
    shortest = min(len(a), len(b))
    return a[:shortest] == b[:shortest]


def any_overlap(reads: set[str], writes: set[str]) -> bool:
    return any(chains_overlap(r, w) for r in reads for w in writes)


# -- branches ------------------------------------------------------------------------


def _branch_key(parent: ast.AST, child: ast.AST) -> tuple[str, int] | None:
    """Which branch of a conditional ``child`` sits in (None: not a branch)."""
    for field in ("body", "orelse", "finalbody"):
        block = getattr(parent, field, None)
        if isinstance(block, list) and any(item is child for item in block):
            return (field, 0)
    for number, handler in enumerate(getattr(parent, "handlers", ()) or ()):
        if handler is child:
            return ("handler", number)
    for number, case in enumerate(getattr(parent, "cases", ()) or ()):
        if case is child:
            return ("case", number)
    return None


def _branches(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> dict[int, tuple[str, str, int]]:
    """For every conditional around ``node``: its kind and the branch taken."""
    branches: dict[int, tuple[str, str, int]] = {}
    child = node
    parent = parents.get(child)
    while parent is not None:
        kind = type(parent).__name__
        if kind in ("If", "Try", "TryStar", "Match"):
            key = _branch_key(parent, child)
            if key is not None:
                branches[id(parent)] = (kind, *key)
        child, parent = parent, parents.get(parent)
    return branches


def mutually_exclusive(first: ast.AST, second: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """The two nodes sit in different branches of one ``if``/``match`` (or the ``else``
    and a handler, or two handlers, of one ``try``), so one run never executes both."""
    one, other = _branches(first, parents), _branches(second, parents)
    for key in one.keys() & other.keys():
        kind, a_field, a_number = one[key]
        _, b_field, b_number = other[key]
        if (a_field, a_number) == (b_field, b_number):
            continue
        if kind == "If" or kind == "Match":
            return True
        fields = {a_field, b_field}
        if fields == {"handler"} or fields == {"handler", "orelse"}:
            return True
    return False


def repeats_in(node: ast.AST, loop: ast.stmt, parents: dict[ast.AST, ast.AST]) -> bool:
    """``node`` is in the loop's body (run on every iteration), not in its ``else``."""
    child: ast.AST = node
    parent = parents.get(child)
    while parent is not None and parent is not loop:
        child, parent = parent, parents.get(parent)
    if parent is None:
        return False
    return any(item is child for item in getattr(loop, "body", []))
