"""Control flow inside one scope: which statement runs before which, and which exclude
each other. Every rule and fix asks these four questions here instead of re-deriving
them from the statement list.

A scope is the module body or one function body (``flow.scope_statements``). Exceptions
and early ``return``/``break`` are not modelled: a statement in a ``try`` body or after
an ``if ...: return`` counts as running.
"""

from __future__ import annotations

import ast

from gradguard.analysis import flow, names
from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.names import names_bound, names_read

# Blocks every statement of which runs whenever the block's statement runs (a loop body
# only when loops are assumed to run at least once).
_STRAIGHT_FIELDS = {ast.With: ("body",), ast.AsyncWith: ("body",), ast.Try: ("body", "finalbody")}
if hasattr(ast, "TryStar"):
    _STRAIGHT_FIELDS[ast.TryStar] = ("body", "finalbody")
_LOOP_FIELDS = ("body",)
Function = ast.FunctionDef | ast.AsyncFunctionDef


def first_parameter(function: Function) -> str | None:
    """The name of the first positional parameter (a method's ``self``), if any."""
    first = [*function.args.posonlyargs, *function.args.args][:1]
    return first[0].arg if first else None


def self_of_method(facts: ModuleFacts, function: ast.AST | None, name: str) -> ast.ClassDef | None:
    """The class ``function`` is a method of, when ``name`` is its first parameter (its
    ``self``); None otherwise."""
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    owner = facts.parents.get(function)
    if isinstance(owner, ast.ClassDef) and first_parameter(function) == name:
        return owner
    return None


def _holder_and_field(facts: ModuleFacts, stmt: ast.stmt) -> tuple[ast.AST | None, str]:
    """The node whose block holds ``stmt`` (a compound statement, an ``except`` handler,
    a ``case``, the scope), and which of its blocks."""
    parent = facts.parents.get(stmt)
    if parent is None or isinstance(parent, (ast.ExceptHandler, ast.match_case)):
        return parent, "body"
    info = facts.statement_info(stmt)
    for field in ("body", "orelse", "finalbody"):
        block = getattr(parent, field, None)
        if info is not None and block is info.block:
            return parent, field
    return parent, "?"


def _chain(facts: ModuleFacts, stmt: ast.stmt) -> list[tuple[ast.stmt, ast.AST | None, str]]:
    """``(statement, holder, field)`` from ``stmt`` out to the scope, innermost first
    (a handler's or case's statement comes before its ``try``/``match``)."""
    chain = []
    current: ast.AST | None = stmt
    while isinstance(current, ast.stmt):
        holder, field = _holder_and_field(facts, current)
        chain.append((current, holder, field))
        if holder is None or isinstance(holder, (ast.Module, *flow.SCOPE_TYPES)):
            break
        if isinstance(holder, (ast.ExceptHandler, ast.match_case)):
            holder = facts.parents.get(holder)
        current = holder
    return chain


def _runs_whenever(holder: ast.AST | None, field: str, loops_run: bool) -> bool:
    if holder is None or isinstance(holder, (ast.Module, *flow.SCOPE_TYPES)):
        return True
    if isinstance(holder, flow.LOOP_TYPES):
        return loops_run and field in _LOOP_FIELDS
    return field in _STRAIGHT_FIELDS.get(type(holder), ())


def dominates(facts: ModuleFacts, a: ast.stmt, b: ast.stmt, *, loops_run: bool = False) -> bool:
    """``a`` runs, earlier in the same pass, whenever ``b`` runs (same scope).

    A compound statement dominates what its blocks hold (its header runs first). With
    ``loops_run`` a loop body is assumed to run at least once (a training loop does).
    """
    if a is b:
        return False
    chain_b = _chain(facts, b)
    if any(stmt is a for stmt, _, _ in chain_b[1:]):
        return True
    positions_b = {id(stmt): (holder, field) for stmt, holder, field in chain_b}
    for stmt, holder, field in _chain(facts, a):
        sibling = _sibling_in(chain_b, holder, field)
        if sibling is not None:
            return _index(facts, stmt) < _index(facts, sibling)
        if id(stmt) in positions_b or not _runs_whenever(holder, field, loops_run):
            return False
    return False


def always_before(facts: ModuleFacts, a: ast.stmt, b: ast.stmt) -> bool:
    """``a`` runs before ``b`` on every path that reaches ``b``, loops running at least
    once: what "the backward() has happened by now" means in a training loop."""
    return dominates(facts, a, b, loops_run=True)


def _sibling_in(
    chain: list[tuple[ast.stmt, ast.AST | None, str]], holder: ast.AST | None, field: str
) -> ast.stmt | None:
    for stmt, other_holder, other_field in chain:
        if other_holder is holder and other_field == field:
            return stmt
    return None


def _index(facts: ModuleFacts, stmt: ast.stmt) -> int:
    """The statement's position in its block."""
    info = facts.statement_info(stmt)
    return info.index if info is not None else -1


def mutually_exclusive(facts: ModuleFacts, a: ast.AST, b: ast.AST) -> bool:
    """``a`` and ``b`` sit in different arms of one ``if``/``match`` (or the ``else`` and
    a handler, or two handlers, of one ``try``): one run never executes both."""
    return names.mutually_exclusive(a, b, facts.parents)


def can_move_past(moved: ast.stmt, passed: list[ast.stmt], root: str) -> bool:
    """Whether ``moved`` can run before the statements ``passed`` (which precede it in
    one block) without changing what either computes: nothing passed reads ``root`` (the
    name the moved statement changes), the moved statement reads nothing they bind, and
    binds nothing (but ``root``) that they read."""
    if any(root in names_read(stmt) for stmt in passed[1:]):
        return False
    bound_between = set().union(*(names_bound(stmt) for stmt in passed))
    read_between = set().union(*(names_read(stmt) for stmt in passed))
    if names_read(moved) & bound_between:
        return False
    return not (names_bound(moved) - {root}) & read_between
