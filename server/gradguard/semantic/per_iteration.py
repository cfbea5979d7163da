"""What a loop makes again on each of its iterations (GG103's question).

``varies_in(expr, loop)``: an expression may hold other objects on the next pass of the
loop, because the loop rebinds a name it reads (reaching definitions), stores into a
field it reads or into a layer of the model whose parameters it reads (the field heap),
or allocates the model itself. ``repeated_calls(function)``: the calls of a same-file
function that a loop of the caller makes on every pass, so whatever the function builds
is built again each time.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from gradguard.analysis import flow
from gradguard.analysis.names import chains_overlap, repeats_in
from gradguard.semantic.limits import NAME_DEPTH
from gradguard.semantic.model import SemanticModel
from gradguard.semantic.objects import UNKNOWN, ModuleObject, Value

Function = ast.FunctionDef | ast.AsyncFunctionDef
# Nodes between a loop and a node that make the node conditional.
GUARDS = (ast.If, ast.Match, ast.ExceptHandler, ast.IfExp, ast.BoolOp)
# How many local assignments a parameter dependency is followed through.


def inside(semantic: SemanticModel, node: ast.AST, outer: ast.AST) -> bool:
    return node is outer or any(p is outer for p in semantic.facts.ancestors(node))


def guarded_within(semantic: SemanticModel, node: ast.AST, outer: ast.AST) -> bool:
    """An ``if``, ``match``, ``except`` or conditional expression between ``outer`` and
    ``node``: the node may not run every time ``outer``'s body does."""
    for parent in semantic.facts.ancestors(node):
        if parent is outer:
            return False
        if isinstance(parent, GUARDS):
            return True
    return False


def varies_in(
    semantic: SemanticModel, expr: ast.expr, loop: ast.stmt, *, made_by: ast.stmt
) -> bool:
    """``expr`` (read by statement ``made_by`` in ``loop``) may hold other objects on
    the loop's next pass: a new model per fold, ``for model in models``."""
    names = [n for n in flow.walk_local(expr) if isinstance(n, ast.Name)]
    if any(_rebound_in(semantic, name, loop) for name in names):
        return True
    owners = semantic.parameter_owners(expr)
    if any(
        isinstance(o, ModuleObject) and o.site is not None and inside(semantic, o.site, loop)
        for o in owners
    ):
        return True  # ``SGD(Net().parameters())``
    held: set = set()
    for owner in owners - {UNKNOWN}:
        held |= semantic.gradients.reachable(owner)
    reads = [n for n in flow.walk_local(expr) if isinstance(n, ast.Attribute)]
    heap = semantic.evaluator.heap
    for attrs in heap.stores.values():
        for target, statement in attrs:
            if statement is made_by or not inside(semantic, statement, loop):
                continue
            if _store_affects(semantic, target, reads, held):
                return True
    return False


def _rebound_in(semantic: SemanticModel, name: ast.Name, loop: ast.stmt) -> bool:
    statement = semantic.facts.enclosing_statement(name)
    if statement is None:
        return False
    scope = semantic.facts.enclosing_scope(name)
    definitions = semantic.bindings(scope).definitions.get(name.id, [])
    reaching = semantic.reaching(name.id, statement) if definitions else []
    return any(
        d.statement is not None and inside(semantic, d.statement, loop) for d in reaching
    ) or any(  # a name the function declares ``global`` and rebinds in the loop
        d.statement is not None and inside(semantic, d.statement, loop)
        for d in definitions
        if not semantic.bindings(scope).is_local(name.id)
    )


def _store_affects(
    semantic: SemanticModel, target: ast.Attribute, reads: list[ast.Attribute], held: set
) -> bool:
    """``<x>.<attr> = ...`` changes what one of ``reads`` holds (the same field of the
    same object), or a layer of the model whose parameters are read (``model.fc = ...``)."""
    receiver = semantic.value_of(target.value)
    if receiver & (held - {UNKNOWN}):
        return True
    for read in reads:
        if read.attr != target.attr:
            continue
        if _overlap(receiver, semantic.value_of(read.value), target.value, read.value):
            return True
    if UNKNOWN in receiver or not receiver:
        written = flow.dotted_name(target)
        return written is not None and any(
            chains_overlap(written, chain) for r in reads if (chain := flow.dotted_name(r))
        )
    return False


def may_be_one(semantic: SemanticModel, first: ast.expr, second: ast.expr) -> bool:
    """``first`` and ``second`` may hold one object."""
    return _overlap(semantic.value_of(first), semantic.value_of(second), first, second)


def _overlap(first: Value, second: Value, first_expr: ast.expr, second_expr: ast.expr) -> bool:
    """Two values may be one object: they share a known object, or both are unknown and
    spelled alike (an unknown object's only identity is its name)."""
    if (first & second) - {UNKNOWN}:
        return True
    if UNKNOWN in first and UNKNOWN in second:
        a, b = flow.dotted_name(first_expr), flow.dotted_name(second_expr)
        return a is not None and a == b
    return False


# -- across calls ---------------------------------------------------------------------


@dataclass(frozen=True)
class RepeatedCall:
    call: ast.Call
    loop: ast.stmt


def repeated_calls(semantic: SemanticModel, function: Function) -> list[RepeatedCall]:
    """The file's calls of module-level ``function`` that a loop of the caller makes on
    every pass (not behind a condition, not in the loop's ``else``)."""
    facts = semantic.facts
    if facts.functions.get(function.name) is not function:
        return []
    found: list[RepeatedCall] = []
    for call in semantic.evaluator.heap.calls_of.get(function.name, []):
        if inside(semantic, call, function):
            continue  # recursion
        statement = facts.enclosing_statement(call)
        info = _info(semantic, statement)
        if info is None:
            continue
        loop = next(
            (lp for lp in reversed(info.loops) if repeats_in(call, lp, facts.parents)), None
        )
        if loop is not None and not guarded_within(semantic, call, loop):
            found.append(RepeatedCall(call, loop))
    return found


def _info(semantic: SemanticModel, statement: ast.stmt | None) -> flow.StatementInfo | None:
    if statement is None:
        return None
    facts = semantic.facts
    return semantic.bindings(facts.enclosing_scope(statement)).statements.get(statement)


def parameter_dependencies(
    semantic: SemanticModel, expr: ast.AST, function: Function
) -> set[str] | None:
    """The parameters of ``function`` whose values ``expr`` is computed from, through
    local assignments; None when it also reads something a caller's loop could change
    without passing it (a module-level name the function does not bind)."""
    found: set[str] = set()
    pending: list[tuple[ast.AST, int]] = [(expr, 0)]
    seen: set[int] = set()
    bindings = semantic.bindings(function)
    while pending:
        node, depth = pending.pop()
        if id(node) in seen or depth > NAME_DEPTH:
            continue
        seen.add(id(node))
        for name in (n for n in flow.walk_local(node) if isinstance(n, ast.Name)):
            if bound_inside(name, node):
                continue
            statement = semantic.facts.enclosing_statement(name)
            if not bindings.is_local(name.id) or statement is None:
                if name.id in semantic.facts.functions or name.id in semantic.facts.imports.aliases:
                    continue  # a function or an import: the same on every call
                if name.id in BUILTINS:
                    continue
                return None
            for definition in bindings.reaching(name.id, statement):
                if definition.kind == "parameter":
                    found.add(name.id)
                elif definition.value is not None:
                    pending.append((definition.value, depth + 1))
    return found


def bound_inside(name: ast.Name, node: ast.AST) -> bool:
    """A comprehension's or lambda's own variable."""
    for child in ast.walk(node):
        if isinstance(child, ast.comprehension) and any(
            isinstance(t, ast.Name) and t.id == name.id for t in ast.walk(child.target)
        ):
            return True
        if isinstance(child, ast.Lambda) and name.id in {a.arg for a in child.args.args}:
            return True
    return False


def argument_for(call: ast.Call, function: Function, parameter: str) -> ast.expr | None:
    """The expression ``call`` passes as ``parameter`` (None: the default is used)."""
    positional = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
    if parameter in positional and positional.index(parameter) < len(call.args):
        return call.args[positional.index(parameter)]
    return next((k.value for k in call.keywords if k.arg == parameter), None)


def passes_unknown_arguments(call: ast.Call) -> bool:
    """``f(*args)`` / ``f(**kwargs)``: which parameters it passes is not known."""
    return any(isinstance(a, ast.Starred) for a in call.args) or any(
        k.arg is None for k in call.keywords
    )


BUILTINS = frozenset(dir(__import__("builtins")))
