"""A one-shot iterator of parameters (``model.parameters()``, ``filter``, ``map``, a
generator expression) consumed twice: by two optimizers, a clip then an optimizer, a
loop, or again in every iteration of a loop. The uses are those its definition reaches
(``SemanticModel.reaching``)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

from gradguard.analysis import flow
from gradguard.analysis.names import mutually_exclusive, repeats_in
from gradguard.findings import Finding, Fix, FixSafety, Severity
from gradguard.rules.gg101.base import EMPTY_LIST, Checker
from gradguard.semantic.bindings import Definition, ScopeBindings
from gradguard.semantic.kinds import GENERATOR_METHODS
from gradguard.semantic.limits import NAME_DEPTH
from gradguard.source import SourceFile

CLIP_FUNCTIONS = frozenset(
    {"clip_grad_norm_", "clip_grad_value_", "clip_grad_norm", "parameters_to_vector"}
)
_MATERIALISERS = frozenset(
    {"list", "tuple", "set", "frozenset", "sorted", "sum", "dict", "max", "min"}
)


@dataclass(frozen=True)
class _Use:
    node: ast.Name
    statement: flow.StatementInfo
    kind: str  # optimizer, clip, list, loop


def check(checker: Checker) -> Iterator[Finding]:
    if not _may_consume_iterators(checker):
        return
    kinds = checker.kinds
    # Only scopes that bind something that may be a one-shot iterator.
    bindings = (
        node
        for node in checker.facts.nodes_of(ast.Assign)
        if kinds.may_be_one_shot_iterator(node.value)  # type: ignore[attr-defined]
    )
    for scope in checker.facts.scopes_holding(bindings):
        yield from _check_scope(checker, scope)


def _may_consume_iterators(checker: Checker) -> bool:
    """Only iterators drawn from ``parameters()``-like methods, or consumed by an
    optimizer or a clipping call, are reported: without any such call, none are.
    (A call that may build an optimizer and receives a name bound to what may be an
    iterator where ``_consumer_kind`` looks lets them through: it asks whether the call
    builds one, per use.)"""
    named = checker.facts.calls_named
    if any(name in named for name in CLIP_FUNCTIONS) or any(
        isinstance(call.func, ast.Attribute)
        for method in GENERATOR_METHODS
        for call in named.get(method, ())
    ):
        return True
    possible = checker.context.optimizers.possible_calls
    if not possible:
        return False
    iterators = {
        node.targets[0].id
        for node in cast(list[ast.Assign], checker.facts.nodes_of(ast.Assign))
        if len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and checker.kinds.may_be_one_shot_iterator(node.value)
    }
    return any(name in iterators for call in possible for name in _consumer_names(call))


def _consumer_names(call: ast.Call) -> Iterator[str]:
    """The names where ``_consumer_kind`` sees an optimizer consume an iterator: the first
    argument, ``params=``, and ``{'params': name}`` in a list or tuple argument."""
    values = [*call.args[:1], *(k.value for k in call.keywords if k.arg == "params")]
    for argument in call.args:
        if isinstance(argument, (ast.List, ast.Tuple)):
            for group in argument.elts:
                if isinstance(group, ast.Dict):
                    values += [
                        v
                        for k, v in zip(group.keys, group.values, strict=False)
                        if isinstance(k, ast.Constant) and k.value == "params"
                    ]
    yield from (v.id for v in values if isinstance(v, ast.Name))


def _check_scope(checker: Checker, scope: flow.Scope) -> Iterator[Finding]:
    statements = checker.facts.statements_of(scope)
    bindings = checker.model.bindings(scope)
    for info in statements:
        node = info.node
        if not (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and checker.kinds.may_be_one_shot_iterator(node.value)
        ):
            continue
        name = node.targets[0].id
        definition = next(
            (d for d in bindings.definitions.get(name, []) if d.statement is node), None
        )
        if definition is None:
            continue
        uses = _consuming_uses(checker, statements, info, definition)
        found = list(_report(checker, info, definition, uses))
        # Whether the value really is a one-shot iterator (for a same-file helper's result:
        # its summary) and one of parameters (not ``iter(loader)``) is asked last: the
        # semantic model's answer can cost seconds, and most bindings are never consumed.
        if (
            found
            and checker.kinds.is_one_shot_iterator(node.value)
            and (
                any(use.kind in ("optimizer", "clip") for use in uses)
                or _draws_parameters(node.value)
                or checker.kinds.returns_parameter_generator(node.value)  # type: ignore[arg-type]
            )
        ):
            yield from found


def _consuming_uses(
    checker: Checker,
    statements: list[flow.StatementInfo],
    binding: flow.StatementInfo,
    definition: Definition,
    depth: int = 0,
) -> list[_Use]:
    """The consuming uses, after the binding, that the binding reaches, also through an
    alias (``params_to_clip = lora_layers``): the alias holds the same iterator."""
    uses: list[_Use] = []
    bindings = checker.model.bindings(checker.facts.enclosing_scope(binding.node))
    for info in statements[binding.order + 1 :]:
        reached: bool | None = None
        for node in flow.own_nodes(info.node):
            if not (
                isinstance(node, ast.Name)
                and node.id == definition.name
                and isinstance(node.ctx, ast.Load)
            ):
                continue
            kind = _consumer_kind(checker, node)
            alias = _alias_definition(checker, node, bindings) if kind is None else None
            if kind is None and (alias is None or depth >= NAME_DEPTH):
                continue
            if reached is None:
                reached = definition in bindings.reaching(definition.name, info.node)
            if reached and alias is not None:
                uses += _consuming_uses(checker, statements, info, alias, depth + 1)
            elif reached and kind is not None:
                uses.append(_Use(node, info, kind))
    return sorted(uses, key=lambda u: u.statement.order) if depth == 0 else uses


def _alias_definition(
    checker: Checker, name: ast.Name, bindings: ScopeBindings
) -> Definition | None:
    """The definition ``alias = name`` makes, when ``name`` is the whole value."""
    statement = checker.facts.parents.get(name)
    if not (
        isinstance(statement, ast.Assign)
        and statement.value is name
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
    ):
        return None
    alias = statement.targets[0].id
    found = bindings.definitions.get(alias, [])
    return next((d for d in found if d.statement is statement), None)


def _consumer_kind(checker: Checker, name: ast.Name) -> str | None:
    """How the use consumes the iterator: ``optimizer``, ``clip``, ``list``, ``loop``."""
    facts = checker.facts
    parent = facts.parents.get(name)
    if isinstance(parent, ast.keyword):
        call = facts.parents.get(parent)
        if isinstance(call, ast.Call) and parent.arg == "params":
            return "optimizer" if facts.is_optimizer_call(call) else None
        if isinstance(call, ast.Call) and parent.arg == "parameters":
            return "clip" if callee_last_name(call) in CLIP_FUNCTIONS else None
        return None
    if isinstance(parent, ast.Dict):
        return _group_consumer(checker, parent, name)
    if isinstance(parent, (ast.For, ast.AsyncFor, ast.comprehension)) and parent.iter is name:
        # A loop that may ``break`` out early leaves the rest of the iterator.
        return None if _may_break(parent) else "loop"
    if isinstance(parent, ast.Call) and parent.args and parent.args[0] is name:
        if facts.is_optimizer_call(parent):
            return "optimizer"
        if callee_last_name(parent) in CLIP_FUNCTIONS:
            return "clip"
        func = parent.func
        if isinstance(func, ast.Name) and func.id in _MATERIALISERS:
            return "list" if checker.kinds.is_builtin(func.id) else None
    return None


def _group_consumer(checker: Checker, group: ast.Dict, name: ast.Name) -> str | None:
    """``SGD([{'params': gen}])``: the optimizer consumes the group's iterator."""
    parents = checker.facts.parents
    for key, value in zip(group.keys, group.values, strict=False):
        if value is name and isinstance(key, ast.Constant) and key.value == "params":
            container = parents.get(group)
            call = parents.get(container) if container is not None else None
            if (
                isinstance(container, (ast.List, ast.Tuple))
                and isinstance(call, ast.Call)
                and checker.facts.is_optimizer_call(call)
            ):
                return "optimizer"
    return None


def _report(
    checker: Checker, binding: flow.StatementInfo, definition: Definition, uses: list[_Use]
) -> Iterator[Finding]:
    parents = checker.facts.parents
    fixes: list[Fix | None] = []  # the fix's text is made once, and only for a finding
    for position, use in enumerate(uses):
        earlier = next(
            (u for u in uses[:position] if not mutually_exclusive(u.node, use.node, parents)),
            None,
        )
        loop = None if earlier else _repeating_loop(checker, binding, use, definition.name)
        if earlier is None and loop is None:
            continue
        if not fixes:
            fixes.append(_materialise_fix(checker.source, binding.node))
        yield _finding(checker, definition.name, use, earlier, loop, fixes[0])


def _repeating_loop(
    checker: Checker, binding: flow.StatementInfo, use: _Use, name: str
) -> ast.stmt | None:
    """A loop around the use, but not around the iterator's creation, that does not
    define it again: its second iteration sees the iterator exhausted."""
    definitions = checker.model.bindings(checker.facts.enclosing_scope(binding.node))
    statements = [
        d.statement for d in definitions.definitions.get(name, []) if d.statement is not None
    ]
    for loop in use.statement.loops:
        if loop in binding.loops or not repeats_in(use.node, loop, checker.facts.parents):
            continue
        if use.kind == "loop" and use.node is getattr(loop, "iter", None):
            continue
        inside = {id(n) for n in ast.walk(loop) if n is not loop}
        if not any(id(stmt) in inside for stmt in statements):
            return loop
    return None


def _finding(
    checker: Checker,
    name: str,
    use: _Use,
    earlier: _Use | None,
    loop: ast.stmt | None,
    fix: Fix | None,
) -> Finding:
    subject = f"`{name}` is" if use.node.id == name else f"`{use.node.id}` holds `{name}`,"
    if earlier is not None:
        cause = (
            f"{subject} a one-shot iterator already consumed on line "
            f"{earlier.node.lineno} ({_CONSUMED_BY[earlier.kind]})"
        )
    else:
        cause = (
            f"{subject} a one-shot iterator that the first iteration of the loop on "
            f"line {loop.lineno if loop else 0} consumes"
        )
    effect, severity = _EFFECT[use.kind]
    if earlier is None:
        effect = f"in every later iteration {effect}"
    where: ast.AST | None = use.node
    if use.kind != "loop":
        # The call that receives the iterator (through a keyword or a group dict).
        while where is not None and not isinstance(where, ast.Call):
            where = checker.facts.parents.get(where)
    return checker.finding(
        where or use.node, f"{cause}, so {effect}", severity, (fix,) if fix else ()
    )


_CONSUMED_BY = {
    "optimizer": "by an optimizer",
    "clip": "by gradient clipping",
    "list": "by a call that materialises it",
    "loop": "by a loop",
}
_EFFECT = {
    "optimizer": (f"this optimizer receives nothing and raises `{EMPTY_LIST}`", Severity.ERROR),
    "clip": (
        "gradient clipping here sees no parameters, returns 0.0 and clips nothing",
        Severity.WARNING,
    ),
    "list": ("this call receives an empty sequence", Severity.WARNING),
    "loop": ("this loop runs no iterations", Severity.WARNING),
}


def _draws_parameters(expr: ast.expr) -> bool:
    return any(
        isinstance(node, ast.Call) and flow.method_name(node) in GENERATOR_METHODS
        for node in ast.walk(expr)
    )


def _may_break(loop: ast.AST) -> bool:
    if isinstance(loop, ast.comprehension):
        return False
    stack: list[ast.AST] = list(getattr(loop, "body", []))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Break):
            return True
        if isinstance(node, (*flow.LOOP_TYPES, *flow.SCOPE_TYPES)):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


def callee_last_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    if isinstance(call.func, ast.Name):
        return call.func.id
    return None


def _materialise_fix(source: SourceFile, binding: ast.stmt) -> Fix | None:
    if not isinstance(binding, ast.Assign):
        return None
    value = binding.value
    return Fix(
        "Materialise it once with `list(...)`",
        FixSafety.SAFE,
        (source.replace(value, f"list({source.node_text(value)})"),),
    )
