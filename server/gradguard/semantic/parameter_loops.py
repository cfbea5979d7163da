"""Is a ``.grad`` use inside a loop over parameters some of which may have no gradient?

``for p in model.parameters(): p.grad.zero_()`` (a comprehension, a name holding the
parameters, ``named_parameters()`` pairs, and the ``for p in group["params"]`` loop of a
same-file ``Optimizer`` subclass's ``step()``) is a GG301 case only when the semantic
model names a reason some parameter can lack a gradient (``parameter_gap``), or when no
``backward()`` can have run since the model was built. A loop that backs the use itself
(a ``backward()``, a ``.grad`` assignment, a ``requires_grad`` test or an earlier
``assert`` on the grads) stays silent.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradguard.analysis import flow, none_guards
from gradguard.semantic import control
from gradguard.semantic.catalogue.tensors import MOVE_AND_CAST_METHODS
from gradguard.semantic.grad_states import GradStates, Reason, State
from gradguard.semantic.grad_uses import GradUse
from gradguard.semantic.objects import (
    AbstractObject,
    ModuleObject,
    OptimizerObject,
    ParameterIterable,
    Value,
)

_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
# Calls between building a model and reading its gradients that run no backward().
_MODEL_HOUSEKEEPING = frozenset({*MOVE_AND_CAST_METHODS, "train", "eval", "parameters"})
_BUILTINS_WITHOUT_BACKWARD = frozenset({"print", "len", "range", "list", "tuple", "enumerate"})


class ParameterLoops:
    def __init__(self, states: GradStates) -> None:
        self.states = states
        self.facts = states.facts
        self.semantic = states.semantic

    def reason(self, use: GradUse) -> Reason | None:
        """In a loop (or comprehension) over parameters that the file shows may lack a
        gradient: why, or None (not such a loop, or every parameter takes part)."""
        for child, parent in _ancestors_in_scope(use.grad, self.facts.parents):
            if isinstance(parent, (ast.For, ast.AsyncFor)) and child in parent.body:
                value = self._parameters_bound(parent.target, parent.iter, use.owner)
                if value is None:
                    continue
                if self._checked_in_loop(parent, use):
                    return None
                return self._gap(parent, parent.iter, value)
            if isinstance(parent, _COMPREHENSIONS):
                for generator in parent.generators:
                    value = self._parameters_bound(generator.target, generator.iter, use.owner)
                    if value is None:
                        continue
                    if _requires_grad_tested(parent, use.owner) or self._asserted_before(
                        parent, use
                    ):
                        return None
                    return self._gap(parent, generator.iter, value)
        return None

    def _parameters_bound(self, target: ast.expr, iterable: ast.expr, owner: str) -> Value | None:
        """What the loop iterates, when it binds ``owner`` to one parameter of it:
        ``for p in model.parameters()``, ``for name, p in model.named_parameters()``,
        through a name holding them, or ``for p in group["params"]`` in an optimizer."""
        value = self._optimizer_group_parameters(iterable) or self.semantic.value_of(iterable)
        iterables = [obj for obj in value if isinstance(obj, ParameterIterable)]
        if not iterables or len(iterables) != len(value):
            return None
        if all(obj.named for obj in iterables):
            if not (isinstance(target, ast.Tuple) and len(target.elts) == 2):
                return None
            target = target.elts[1]
        elif any(obj.named for obj in iterables):
            return None
        return value if isinstance(target, ast.Name) and target.id == owner else None

    def _optimizer_group_parameters(self, iterable: ast.expr) -> Value | None:
        """``group["params"]`` where ``group`` runs over ``<optimizer>.param_groups``: the
        parameters the optimizer holds. In a method of a same-file ``Optimizer`` subclass
        (``self.param_groups``), those every construction of that class in the file
        passes (``MySGD(model.parameters())``). None when the file builds none, or any
        with something other than parameters."""
        if not (
            isinstance(iterable, ast.Subscript)
            and isinstance(iterable.value, ast.Name)
            and isinstance(iterable.slice, ast.Constant)
            and iterable.slice.value == "params"
        ):
            return None
        groups = self._groups_loop(iterable, iterable.value.id)
        if groups is None:
            return None
        optimizers = self._optimizers_of(groups)
        held: set[ParameterIterable] = set()
        for obj in optimizers:
            if not isinstance(obj, OptimizerObject):
                return None
            if not obj.params or not all(isinstance(p, ParameterIterable) for p in obj.params):
                return None
            held |= obj.params  # type: ignore[arg-type]
        return frozenset(held) or None

    def _groups_loop(self, node: ast.AST, group: str) -> ast.expr | None:
        """``<optimizer>`` of the ``for <group> in <optimizer>.param_groups`` around ``node``."""
        for _, parent in _ancestors_in_scope(node, self.facts.parents):
            if (
                isinstance(parent, ast.For)
                and isinstance(parent.target, ast.Name)
                and parent.target.id == group
                and isinstance(parent.iter, ast.Attribute)
                and parent.iter.attr == "param_groups"
            ):
                return parent.iter.value
        return None

    def _optimizers_of(self, expr: ast.expr) -> Value:
        """What ``expr`` holds; ``self`` in a same-file optimizer class: every instance
        the file builds of it."""
        method = self.facts.enclosing_function(expr)
        owner = self.facts.parents.get(method) if method is not None else None
        if not (
            isinstance(expr, ast.Name) and expr.id == "self" and isinstance(owner, ast.ClassDef)
        ):
            return self.semantic.value_of(expr)
        info = self.facts.classes.get(owner.name)
        if info is None or not info.is_optimizer:
            return frozenset()
        found: set[AbstractObject] = set()
        for call in self.facts.nodes_of(ast.Call):
            func = call.func  # type: ignore[attr-defined]
            if isinstance(func, ast.Name) and func.id == owner.name:
                found |= self.semantic.value_of(call)
        return frozenset(found)

    def _gap(self, loop: ast.AST, iterable: ast.expr, value: Value) -> Reason | None:
        """The reason the file shows for some parameter to have no gradient here."""
        gap = self.semantic.gap_of_parameters(value)
        if gap is not None:
            return Reason(State.PARAMETER_LOOP, gap.node, detail=gap.reason)
        creation = self._created_without_backward(loop, iterable)
        return Reason(State.FRESH, creation) if creation is not None else None

    def _created_without_backward(self, loop: ast.AST, iterable: ast.expr) -> ast.stmt | None:
        """The statement that built the model, in this scope, when no backward() (nor
        any call that might run one) can have run between it and the loop."""
        statement = self.facts.enclosing_statement(loop)
        if statement is None:
            return None
        scope = self.facts.enclosing_scope(statement)
        infos = self.states.infos(scope)
        for owner in self.semantic.parameter_owners(iterable):
            created = self.facts.enclosing_statement(owner.site) if owner.site else None
            if (
                not isinstance(owner, ModuleObject)
                or created not in infos
                or not control.always_before(self.facts, created, statement)
            ):
                continue
            between = self.facts.statements_of(scope)[
                infos[created].order + 1 : infos[statement].order
            ]
            if not any(self._may_run_backward(info.node) for info in between):
                return created
        return None

    def _may_run_backward(self, stmt: ast.stmt) -> bool:
        for node in flow.own_nodes(stmt):
            if not isinstance(node, ast.Call):
                continue
            if flow.is_backward_call(node):
                return True
            qualified = self.facts.qualify(node.func) or ""
            if qualified.startswith("torch.") or self.facts.is_module_call(node):
                continue
            if flow.method_name(node) in _MODEL_HOUSEKEEPING:
                continue
            if isinstance(node.func, ast.Name) and node.func.id in _BUILTINS_WITHOUT_BACKWARD:
                continue
            return True
        return False

    def _checked_in_loop(self, loop: ast.For | ast.AsyncFor, use: GradUse) -> bool:
        """The loop body backs the use with a backward(), a `.grad` assignment, or a
        `requires_grad` test before it (all: stay silent)."""
        if _requires_grad_tested(loop, use.owner) or self._asserted_before(loop, use):
            return True
        for stmt in loop.body:
            if stmt is use.statement or _contains(stmt, use.statement):
                break
            for node in flow.walk_local(stmt):
                if isinstance(node, ast.Call) and flow.is_backward_call(node):
                    return True
                if isinstance(node, ast.stmt) and any(
                    flow.dotted_name(t) == f"{use.owner}.grad" for t in flow.assigned_targets(node)
                ):
                    return True
        return False

    def _asserted_before(self, node: ast.AST, use: GradUse) -> bool:
        """An earlier ``assert`` / ``self.assert...(...)`` in the scope checks the grads
        against None (``assert all(p.grad is not None for p in ...)``): trust it."""
        statement = self.facts.enclosing_statement(node)
        scope = self.facts.enclosing_scope(use.statement)
        info = self.states.infos(scope).get(statement) if statement is not None else None
        if info is None:
            return False
        for earlier in self.facts.statements_of(scope)[: info.order]:
            stmt = earlier.node
            is_assert = isinstance(stmt, ast.Assert) or (
                isinstance(stmt, ast.Expr)
                and isinstance(stmt.value, ast.Call)
                and (flow.method_name(stmt.value) or "").startswith("assert")
            )
            if is_assert and any(
                none_guards.guarded_name(n.left) == f"{use.owner}.grad"
                for n in flow.walk_local(stmt)
                if isinstance(n, ast.Compare)
            ):
                return True
        return False


def _ancestors_in_scope(
    node: ast.AST, parents: dict[ast.AST, ast.AST]
) -> Iterator[tuple[ast.AST, ast.AST]]:
    child, parent = node, parents.get(node)
    while parent is not None and not isinstance(parent, flow.SCOPE_TYPES):
        yield child, parent
        child, parent = parent, parents.get(parent)


def _requires_grad_tested(node: ast.AST, owner: str) -> bool:
    """``p.requires_grad`` appears in the loop: frozen parameters are handled on purpose."""
    return any(
        isinstance(n, ast.Attribute)
        and n.attr == "requires_grad"
        and flow.dotted_name(n.value) == owner
        for n in flow.walk_local(node)
    )


def _contains(outer: ast.AST, inner: ast.AST) -> bool:
    return any(node is inner for node in flow.walk_local(outer))
