"""Flow-sensitive bindings: which definitions of a name reach a statement.

A definition is an assignment (plain, annotated, augmented, unpacking), a walrus, a
``for`` or ``with`` target, a function parameter, an import, a ``def``/``class``. A name
a function never binds (or declares ``global``) is read from the module's definitions.

Reaching definitions are found per name on the structured code, not by iterating a
control-flow graph: the latest earlier definition that dominates the statement kills
those before it; definitions in branches that do not dominate, and those later in a loop
that holds the statement (the next iteration), reach it too.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cached_property

from gradguard.analysis import flow
from gradguard.analysis.facts import ModuleFacts
from gradguard.semantic import control


@dataclass(frozen=True, eq=False)
class Definition:
    name: str
    kind: str  # assign, augment, for, with, parameter, import, def, walrus
    statement: ast.stmt | None  # None for a parameter (bound before the body runs)
    order: int  # the statement's position in its scope; -1 for a parameter
    # What the name is bound to: the assigned expression, the element of an unpacked
    # tuple, the ``for`` loop's iterable, the parameter's default; None when unknown.
    value: ast.expr | None = None
    # The function whose parameter this is.
    function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | None = None


class ScopeBindings:
    """The definitions of one scope (module or function body), by name."""

    def __init__(self, facts: ModuleFacts, scope: flow.Scope) -> None:
        self.facts = facts
        self.scope = scope

    @cached_property
    def statements(self) -> dict[ast.stmt, flow.StatementInfo]:
        return {info.node: info for info in self.facts.statements_of(self.scope)}

    @cached_property
    def definitions(self) -> dict[str, list[Definition]]:
        found: dict[str, list[Definition]] = {}
        if not isinstance(self.scope, ast.Module):
            for definition in _parameters(self.scope):
                found.setdefault(definition.name, []).append(definition)
        walrus = self.facts.mentions(":=")
        for info in self.facts.statements_of(self.scope):
            for definition in _defined_by(info, walrus):
                found.setdefault(definition.name, []).append(definition)
        return found

    @cached_property
    def declared_global(self) -> set[str]:
        names: set[str] = set()
        for info in self.facts.statements_of(self.scope):
            if isinstance(info.node, (ast.Global, ast.Nonlocal)):
                names.update(info.node.names)
        return names

    def is_local(self, name: str) -> bool:
        return name in self.definitions and name not in self.declared_global

    def reaching(self, name: str, at: ast.stmt) -> list[Definition]:
        """The definitions of ``name`` in this scope that may be what it holds when ``at``
        runs, latest first. Empty when none is known (not bound here, or only later)."""
        info = self.statements.get(at)
        definitions = self.definitions.get(name, [])
        if info is None or not definitions:
            return []
        facts = self.facts
        found: list[Definition] = []
        killer: Definition | None = None
        for definition in reversed(definitions):
            if definition.order >= info.order:
                continue
            if definition.statement is not None and control.mutually_exclusive(
                facts, definition.statement, at
            ):
                continue
            found.append(definition)
            if definition.statement is None or control.dominates(facts, definition.statement, at):
                killer = definition
                break
        for loop in reversed(info.loops):
            if (
                killer is not None
                and killer.statement is not None
                and _inside(facts, killer.statement, loop)
            ):
                break
            found += [
                d
                for d in definitions
                if d.order > info.order
                and d.statement is not None
                and _inside(facts, d.statement, loop)
                and not control.mutually_exclusive(facts, d.statement, at)
            ]
        return found


def _inside(facts: ModuleFacts, node: ast.AST, outer: ast.AST) -> bool:
    return any(parent is outer for parent in facts.ancestors(node))


def _parameters(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[Definition]:
    arguments = function.args
    positional = [*arguments.posonlyargs, *arguments.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(arguments.defaults))
    defaults += arguments.defaults
    pairs = list(zip(positional, defaults, strict=True))
    pairs += list(zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True))
    pairs += [(a, None) for a in (arguments.vararg, arguments.kwarg) if a is not None]
    return [Definition(a.arg, "parameter", None, -1, default, function) for a, default in pairs]


def _defined_by(info: flow.StatementInfo, walrus: bool) -> list[Definition]:
    stmt, order = info.node, info.order
    found: list[Definition] = []

    def add(name: str, kind: str, value: ast.expr | None = None) -> None:
        found.append(Definition(name, kind, stmt, order, value))

    if isinstance(stmt, ast.Assign):
        for target in stmt.targets:
            for name, value in _unpack(target, stmt.value):
                add(name, "assign", value)
    elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        if stmt.value is not None:
            add(stmt.target.id, "assign", stmt.value)
    elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
        add(stmt.target.id, "augment", stmt.value)
    elif isinstance(stmt, (ast.For, ast.AsyncFor)):
        for target in flow.assigned_targets(stmt):
            if isinstance(target, ast.Name):
                add(target.id, "for", stmt.iter if target is stmt.target else None)
    elif isinstance(stmt, (ast.With, ast.AsyncWith)):
        for item in stmt.items:
            if isinstance(item.optional_vars, ast.Name):
                add(item.optional_vars.id, "with", item.context_expr)
    elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
        for alias in stmt.names:
            add((alias.asname or alias.name).split(".")[0], "import")
    elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        add(stmt.name, "def")
    for node in flow.own_nodes(stmt) if walrus else ():
        if isinstance(node, ast.NamedExpr) and isinstance(node.target, ast.Name):
            add(node.target.id, "walrus", node.value)
    return found


def _unpack(target: ast.expr, value: ast.expr | None) -> list[tuple[str, ast.expr | None]]:
    """``(name, value)`` for each name ``target`` binds: ``a, b = x, y`` pairs them up;
    an unpacking of anything else binds each name to an unknown value."""
    if isinstance(target, ast.Name):
        return [(target.id, value)]
    if isinstance(target, (ast.Tuple, ast.List)):
        same_shape = (
            isinstance(value, (ast.Tuple, ast.List))
            and len(value.elts) == len(target.elts)
            and not any(isinstance(e, ast.Starred) for e in [*target.elts, *value.elts])
        )
        pairs: list[tuple[str, ast.expr | None]] = []
        for position, element in enumerate(target.elts):
            inner = value.elts[position] if same_shape else None  # type: ignore[union-attr]
            pairs += _unpack(element.value if isinstance(element, ast.Starred) else element, inner)
        return pairs
    return []
