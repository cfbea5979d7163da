"""Statement order inside scopes, blocks and loops.

A *scope* is the module body or one function body. Its statements are listed in
source order, descending into ``if``/``for``/``with``/``try`` blocks but not into
nested functions or classes, each with the block that holds it and the loops and
conditionals around it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

LOOP_TYPES = (ast.For, ast.AsyncFor, ast.While)
SCOPE_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
CONDITIONAL_TYPES = (ast.If, ast.Try, ast.Match, ast.IfExp) + (
    (ast.TryStar,) if hasattr(ast, "TryStar") else ()
)

Scope = ast.Module | ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True, eq=False)
class StatementInfo:
    node: ast.stmt
    block: list[ast.stmt]
    index: int
    loops: tuple[ast.stmt, ...]
    conditionals: tuple[ast.stmt, ...]
    order: int

    @property
    def line(self) -> int:
        return self.node.lineno


def scopes(tree: ast.Module) -> Iterator[Scope]:
    yield tree
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def child_blocks(stmt: ast.stmt) -> Iterator[list[ast.stmt]]:
    for field in ("body", "orelse", "finalbody"):
        block = getattr(stmt, field, None)
        if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
            yield block
    for handler in getattr(stmt, "handlers", ()) or ():
        yield handler.body
    for case in getattr(stmt, "cases", ()) or ():
        yield case.body


def scope_statements(scope: Scope) -> list[StatementInfo]:
    """Every statement of the scope, in source order, with its context."""
    result: list[StatementInfo] = []
    _visit_block(scope.body, (), (), result)
    return result


def _visit_block(
    block: list[ast.stmt], loops: tuple, conditionals: tuple, result: list[StatementInfo]
) -> None:
    # A module-level function, not a recursive closure: the closure's reference cycle
    # kept every scope's statements (and their trees) alive until a full collection.
    for index, stmt in enumerate(block):
        result.append(StatementInfo(stmt, block, index, loops, conditionals, len(result)))
        if isinstance(stmt, SCOPE_TYPES):
            continue
        inner_loops = (*loops, stmt) if isinstance(stmt, LOOP_TYPES) else loops
        inner_conds = (*conditionals, stmt) if isinstance(stmt, CONDITIONAL_TYPES) else conditionals
        for child in child_blocks(stmt):
            _visit_block(child, inner_loops, inner_conds, result)


def header_nodes(stmt: ast.stmt) -> list[ast.AST]:
    """The parts of a statement evaluated by the statement itself, not its blocks."""
    if isinstance(stmt, (ast.If, ast.While)):
        return [stmt.test]
    if isinstance(stmt, (ast.For, ast.AsyncFor)):
        return [stmt.target, stmt.iter]
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        return list(stmt.items)
    if isinstance(stmt, SCOPE_TYPES):
        return list(getattr(stmt, "decorator_list", []))
    if isinstance(stmt, ast.Try) or (hasattr(ast, "TryStar") and isinstance(stmt, ast.TryStar)):
        return []
    if isinstance(stmt, ast.Match):
        return [stmt.subject]
    return [stmt]


# Fields that never hold a child worth visiting: identifiers and flags (strings,
# numbers), a Constant's value, and the shared singleton ``ctx``/operator nodes
# (``Load()``, ``Add()``...), which have no children, no position and one object for the
# whole process, so no rule asks about them or their "parent".
_NON_CHILD_FIELDS = frozenset(
    {
        "ctx", "op", "ops", "id", "attr", "arg", "name", "module", "level", "kind",
        "type_comment", "conversion", "is_async", "n", "s",
    }
)  # fmt: skip


def _child_field_table() -> dict[type, tuple[str, ...]]:
    table: dict[type, tuple[str, ...]] = {}
    pending: list[type] = [ast.AST]
    while pending:
        kind = pending.pop()
        pending.extend(kind.__subclasses__())
        leaf = issubclass(kind, ast.Constant)
        names = () if leaf else getattr(kind, "_fields", ())
        table[kind] = tuple(f for f in names if f not in _NON_CHILD_FIELDS)
    return table


# ``{node type: the fields that can hold child nodes}`` for every AST node type.
CHILD_FIELDS = _child_field_table()


def walk_local(node: ast.AST) -> Iterator[ast.AST]:
    """Like ``ast.walk`` but does not enter nested functions, lambdas or classes."""
    return _walk_skipping([node], SCOPE_TYPES)


def _walk_skipping(stack: list[ast.AST], skipped: tuple[type, ...]) -> Iterator[ast.AST]:
    """Depth first from ``stack``, never pushing a child of the ``skipped`` types.

    (Children are read from ``CHILD_FIELDS`` directly rather than through
    ``ast.iter_child_nodes``: the same order, without two generator layers per node.
    This walk is the engine's hottest loop.)
    """
    pop, push, node_type = stack.pop, stack.append, ast.AST
    fields_of = CHILD_FIELDS.__getitem__
    while stack:
        current = pop()
        yield current
        for name in fields_of(type(current)):
            value = getattr(current, name, None)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, node_type) and not isinstance(item, skipped):
                        push(item)
            elif isinstance(value, node_type) and not isinstance(value, skipped):
                push(value)


def own_nodes(stmt: ast.stmt) -> tuple[ast.AST, ...]:
    """Nodes evaluated by the statement itself (headers only for compound ones).

    Memoised on the statement: most rules scan every statement's own nodes, and this
    walk was the engine's hottest loop. The lists of all statements together hold each
    node at most once (a compound statement's header excludes its blocks).
    """
    memo = getattr(stmt, _OWN_NODES, None)
    if memo is None:
        nodes = tuple(node for part in header_nodes(stmt) for node in walk_local(part))
        # Never store the statement in its own memo: that cycle would keep the whole
        # tree alive until a full garbage collection instead of freeing it at once.
        # A compound statement's memo starts with None (its header excludes itself).
        setattr(stmt, _OWN_NODES, nodes[1:] if nodes and nodes[0] is stmt else (None, *nodes))
        return nodes
    return memo[1:] if memo and memo[0] is None else (stmt, *memo)


_OWN_NODES = "_gradguard_own_nodes"


def calls_in(node: ast.AST) -> Iterator[ast.Call]:
    for child in walk_local(node):
        if isinstance(child, ast.Call):
            yield child


def method_name(call: ast.Call) -> str | None:
    return call.func.attr if isinstance(call.func, ast.Attribute) else None


def is_backward_call(call: ast.Call) -> bool:
    """``loss.backward()``, ``torch.autograd.backward(...)``, ``scaler.scale(l).backward()``."""
    return method_name(call) == "backward"


def is_training_loop(loop: ast.stmt) -> bool:
    """A loop whose body (not nested functions) calls ``backward()`` or ``.step()``."""
    return any(method_name(call) in ("backward", "step") for call in calls_in(loop))


def innermost_training_loop(info: StatementInfo) -> ast.stmt | None:
    for loop in reversed(info.loops):
        if is_training_loop(loop):
            return loop
    return None


def dotted_name(expr: ast.AST) -> str | None:
    """``model.fc.weight`` for attribute chains on a name, else None."""
    parts: list[str] = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if isinstance(expr, ast.Name):
        parts.append(expr.id)
        return ".".join(reversed(parts))
    return None


def assigned_targets(stmt: ast.stmt) -> list[ast.expr]:
    if isinstance(stmt, ast.Assign):
        targets: list[ast.expr] = []
        for target in stmt.targets:
            targets.extend(_flatten_target(target))
        return targets
    if isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        return [stmt.target]
    if isinstance(stmt, (ast.For, ast.AsyncFor)):
        return _flatten_target(stmt.target)
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        return [
            t
            for item in stmt.items
            if item.optional_vars
            for t in _flatten_target(item.optional_vars)
        ]
    return []


def _flatten_target(target: ast.expr) -> list[ast.expr]:
    if isinstance(target, (ast.Tuple, ast.List)):
        return [leaf for elt in target.elts for leaf in _flatten_target(elt)]
    if isinstance(target, ast.Starred):
        return _flatten_target(target.value)
    return [target]


def assigns_name(stmt: ast.stmt, name: str) -> bool:
    return any(dotted_name(t) == name for t in assigned_targets(stmt))


def is_under_no_grad(info: StatementInfo, parents: dict[ast.AST, ast.AST]) -> bool:
    """True when a ``with torch.no_grad():`` (or ``inference_mode``) encloses the statement."""
    node: ast.AST | None = info.node
    while node is not None:
        node = parents.get(node)
        if isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                expr = item.context_expr
                name = expr.func if isinstance(expr, ast.Call) else expr
                last = dotted_name(name) or ""
                if last.rsplit(".", 1)[-1] in ("no_grad", "inference_mode"):
                    return True
        if isinstance(node, SCOPE_TYPES):
            return _decorated_no_grad(node)
    return False


def _decorated_no_grad(node: ast.AST) -> bool:
    for decorator in getattr(node, "decorator_list", []):
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if (dotted_name(target) or "").rsplit(".", 1)[-1] in ("no_grad", "inference_mode"):
            return True
    return False


_STATEMENT_BLOCKS = ("body", "handlers", "orelse", "finalbody", "cases")


def class_assignments(node: ast.ClassDef) -> list[ast.stmt]:
    """The ``=``, annotated and augmented assignments among the nodes
    :func:`walk_local_class` yields, in its order, visiting statements only.

    The same stack discipline restricted to statements gives the same relative order:
    expressions hold no statements (lambdas are skipped there too). As there, a class
    directly in the body is entered and one nested deeper is not.
    """
    wanted = (ast.Assign, ast.AnnAssign, ast.AugAssign)
    found: list[ast.stmt] = []
    stack: list[ast.AST] = list(node.body)
    pop, push = stack.pop, stack.append
    while stack:
        current = pop()
        if isinstance(current, wanted):
            found.append(current)  # type: ignore[arg-type]
            continue  # an assignment holds no statements
        for name in _STATEMENT_BLOCKS:
            block = getattr(current, name, None)
            if block:
                for child in block:
                    if not isinstance(child, ast.ClassDef):
                        push(child)
    return found


def walk_local_class(node: ast.ClassDef) -> Iterator[ast.AST]:
    """Nodes of a class body and its methods, not of nested classes or lambdas."""
    return _walk_skipping(list(node.body), (ast.ClassDef, ast.Lambda))
