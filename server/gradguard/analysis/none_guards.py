"""Guards that prove an attribute is not None (``if p.grad is not None:``), and the
edit that adds such a guard around a statement.

Targets are dotted names such as ``p.grad`` or ``m.bias``. Used by GG301 and GG304.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradguard.analysis import flow
from gradguard.findings import TextEdit
from gradguard.source import SourceFile

_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
_EXITS = (ast.Continue, ast.Return, ast.Break, ast.Raise)


def guarded_name(expr: ast.AST) -> str | None:
    """The dotted name an expression tests: ``p.grad``, ``(g := p.grad)``,
    ``getattr(p, "grad", None)``."""
    if isinstance(expr, ast.NamedExpr):
        return guarded_name(expr.value)
    if (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Name)
        and expr.func.id == "getattr"
        and len(expr.args) >= 2
        and isinstance(expr.args[1], ast.Constant)
        and isinstance(expr.args[1].value, str)
    ):
        owner = flow.dotted_name(expr.args[0])
        return f"{owner}.{expr.args[1].value}" if owner else None
    return flow.dotted_name(expr)


def _none_comparison(test: ast.AST, target: str) -> type[ast.cmpop] | None:
    """``ast.IsNot`` / ``ast.Is`` (or ``NotEq`` / ``Eq``) for ``target <op> None``."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return None
    left, right = test.left, test.comparators[0]
    if isinstance(left, ast.Constant) and left.value is None:
        left, right = right, left
    if not (isinstance(right, ast.Constant) and right.value is None):
        return None
    if guarded_name(left) != target:
        return None
    return type(test.ops[0])


def proves_not_none(test: ast.AST, target: str) -> bool:
    """When ``test`` is true, ``target`` is not None."""
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return any(proves_not_none(value, target) for value in test.values)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return proves_none_possible(test.operand, target)
    if _none_comparison(test, target) in (ast.IsNot, ast.NotEq):
        return True
    # Truthiness (`if p.grad:`, `if (g := p.grad):`): None is falsy.
    return guarded_name(test) == target


def proves_none_possible(test: ast.AST, target: str) -> bool:
    """When ``test`` is false, ``target`` is not None (``p.grad is None``,
    ``... or p.grad is None``)."""
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or):
        return any(proves_none_possible(value, target) for value in test.values)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return proves_not_none(test.operand, target)
    return _none_comparison(test, target) in (ast.Is, ast.Eq)


def _path_to_scope(
    node: ast.AST, parents: dict[ast.AST, ast.AST]
) -> Iterator[tuple[ast.AST, ast.AST]]:
    """(child, parent) pairs from ``node`` up to its function or module."""
    child = node
    parent = parents.get(child)
    while parent is not None:
        yield child, parent
        if isinstance(parent, flow.SCOPE_TYPES):
            return
        child, parent = parent, parents.get(parent)


def is_guarded(node: ast.AST, target: str, parents: dict[ast.AST, ast.AST]) -> bool:
    """True when every path to ``node`` has checked that ``target`` is not None:
    an enclosing ``if``/``while``/conditional expression/``and``/comprehension filter,
    or an earlier ``if target is None: continue`` / ``assert target is not None`` /
    ``if target is None: target = ...`` in an enclosing block."""
    for child, parent in _path_to_scope(node, parents):
        if _parent_guards_child(parent, child, target):
            return True
        if isinstance(child, ast.stmt) and _earlier_statement_guards(parent, child, target):
            return True
    return False


def _parent_guards_child(parent: ast.AST, child: ast.AST, target: str) -> bool:
    if isinstance(parent, (ast.If, ast.While, ast.IfExp)):
        in_body = child in parent.body if isinstance(parent.body, list) else child is parent.body
        in_else = (
            child in parent.orelse if isinstance(parent.orelse, list) else child is parent.orelse
        )
        if in_body and proves_not_none(parent.test, target):
            return True
        if in_else and proves_none_possible(parent.test, target):
            return True
    if isinstance(parent, ast.Try) and child in parent.body:
        # `try: p.grad.zero_()` / `except AttributeError:` handles the None case.
        return any(_catches_attribute_error(handler) for handler in parent.handlers)
    if isinstance(parent, ast.BoolOp) and child in parent.values:
        earlier = parent.values[: parent.values.index(child)]  # type: ignore[arg-type]
        test = proves_not_none if isinstance(parent.op, ast.And) else proves_none_possible
        return any(test(value, target) for value in earlier)
    if isinstance(parent, _COMPREHENSIONS):
        return any(
            proves_not_none(condition, target)
            for generator in parent.generators
            for condition in generator.ifs
        )
    if isinstance(parent, ast.comprehension) and child in parent.ifs:
        earlier = parent.ifs[: parent.ifs.index(child)]  # type: ignore[arg-type]
        return any(proves_not_none(condition, target) for condition in earlier)
    return False


def _catches_attribute_error(handler: ast.ExceptHandler) -> bool:
    caught = handler.type
    names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
    return any(
        name is None or flow.dotted_name(name) in ("AttributeError", "Exception", "BaseException")
        for name in names
    )


def _earlier_statement_guards(parent: ast.AST, child: ast.stmt, target: str) -> bool:
    for block in flow.child_blocks(parent) if isinstance(parent, ast.stmt) else [_body(parent)]:
        if child in block:
            return any(_statement_guards(stmt, target) for stmt in block[: block.index(child)])
    return False


def _body(node: ast.AST) -> list[ast.stmt]:
    body = getattr(node, "body", None)
    return body if isinstance(body, list) else []


def _statement_guards(stmt: ast.stmt, target: str) -> bool:
    if isinstance(stmt, ast.Assert):
        return proves_not_none(stmt.test, target)
    if isinstance(stmt, ast.If) and proves_none_possible(stmt.test, target) and stmt.body:
        # `if p.grad is None: continue` exits; `if p.grad is None: p.grad = ...` fills it.
        if isinstance(stmt.body[-1], _EXITS):
            return True
        return any(
            flow.dotted_name(t) == target for s in stmt.body for t in flow.assigned_targets(s)
        )
    return False


# -- the fix: wrap a statement in an `if <condition>:` -----------------------------


def indent_unit(source: SourceFile) -> str:
    """The file's indentation step: a tab, or the smallest run of leading spaces."""
    widths = []
    for line in source.lines:
        stripped = line.lstrip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        lead = line[: len(line) - len(stripped)]
        if lead.startswith("\t"):
            return "\t"
        if lead:
            widths.append(len(lead))
    return " " * min(widths) if widths else "    "


def stands_alone(source: SourceFile, stmt: ast.stmt) -> bool:
    """The statement fills its lines: nothing but indentation before it and at most a
    comment after it (no `;` neighbours, not on a compound statement's header line)."""
    span = source.span_of(stmt)
    before = source.line_text(span.start.line)[: span.start.column]
    after = source.line_text(span.end.line)[span.end.column :].strip()
    return not before.strip() and (not after or after.startswith("#"))


def _has_multiline_string(stmt: ast.stmt) -> bool:
    return any(
        isinstance(node, (ast.Constant, ast.JoinedStr)) and node.lineno != node.end_lineno
        for node in ast.walk(stmt)
    )


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


def wrap_in_if(source: SourceFile, stmt: ast.stmt, condition: str) -> TextEdit | None:
    """An edit that puts ``stmt`` under ``if <condition>:``, or None when it cannot be
    done without changing other code (shared line, multi-line string)."""
    if not _binds_nothing(stmt) or not stands_alone(source, stmt):
        return None
    if _has_multiline_string(stmt):
        return None
    first, last = stmt.lineno - 1, (stmt.end_lineno or stmt.lineno) - 1
    indent = source.indentation_of(first)
    unit = "\t" if indent.startswith("\t") else indent_unit(source)
    newline = source.newline
    lines = [source.line_text(n) for n in range(first, last + 1)]
    body = newline.join(unit + line if line.strip() else line for line in lines)
    text = f"{indent}if {condition}:{newline}{body}"
    span = source.whole_lines(first, last)
    span_text = source.segment(span)
    if span_text.endswith(newline):
        text += newline
    return TextEdit(span, text)
