"""Guards that prove an attribute is not None (``if p.grad is not None:``). The edit
that adds such a guard around a statement is :func:`gradguard.analysis.edits.wrap_in_if`.

Targets are dotted names such as ``p.grad`` or ``m.bias``. Used by GG301 and GG304.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradguard.analysis import flow

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
    if _predicate_on(test, target):
        return True
    # Truthiness (`if p.grad:`, `if (g := p.grad):`): None is falsy.
    return guarded_name(test) == target


# Calls that are truthy for None too: they prove nothing about ``target``.
_NON_PREDICATES = frozenset({"str", "repr", "id", "type", "print", "hash", "format"})


def _predicate_on(test: ast.AST, target: str) -> bool:
    """``exists(m.bias)``, ``torch.is_tensor(p.grad)``, ``isinstance(m.bias, Tensor)``:
    a call that receives ``target`` itself as its first argument. Such a helper either
    tests for None (``def exists(v): return v is not None``) or fails on None before
    the guarded code runs; either way the code under it never sees None. ``hasattr(m,
    "bias")`` receives the owner, not the target, and stays no guard."""
    if not (isinstance(test, ast.Call) and test.args):
        return False
    name = flow.dotted_name(test.func)
    if not name:
        return False
    last = name.rsplit(".", 1)[-1].lower()
    if last in _NON_PREDICATES or ("none" in last and "not" not in last):
        return False
    return guarded_name(test.args[0]) == target


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
