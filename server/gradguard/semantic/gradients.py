"""Which parameters a backward() may leave without a gradient, as far as the file shows.

``gap_of(model_value)`` answers, for what a name holds, with the first reason the file
shows that some parameter of it can keep ``.grad is None`` after a backward through it
(a submodule ``forward`` never uses, a branch in ``forward`` that decides which
submodules run, a ``no_grad`` block in ``forward``), or None: every parameter takes part
(a ``torch.nn`` layer; a same-file module whose ``forward`` uses all its submodules
unconditionally), or the file does not say (an imported model: unknown stays silent).
Frozen parameters are a file-wide fact (``freezes``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cached_property

from gradguard.analysis import flow
from gradguard.analysis.facts import ModuleFacts, self_attribute
from gradguard.semantic.limits import CALL_DEPTH
from gradguard.semantic.objects import (
    UNKNOWN,
    AbstractObject,
    ModuleObject,
    ParameterIterable,
    ParameterObject,
    Value,
    position,
)
from gradguard.semantic.values import Evaluator

_NO_GRAD = frozenset({"torch.no_grad", "torch.inference_mode"})


@dataclass(frozen=True)
class Gap:
    """Why some parameter can lack a gradient, and where the file shows it."""

    reason: str
    node: ast.AST


class Gradients:
    def __init__(self, facts: ModuleFacts, evaluator: Evaluator) -> None:
        self.facts = facts
        self.evaluator = evaluator
        self._gaps: dict[tuple[AbstractObject, int, bool], Gap | None] = {}

    @cached_property
    def freezes(self) -> list[tuple[ast.AST, ast.expr | None]]:
        """``(node, receiver)`` where the file freezes a parameter: ``x.requires_grad =
        False``, ``x.requires_grad_(False)`` (receiver ``x``), ``nn.Parameter(...,
        requires_grad=False)`` (no receiver)."""
        found: list[tuple[ast.AST, ast.expr | None]] = []
        for node in self.facts.nodes_of(ast.Assign):
            assert isinstance(node, ast.Assign)
            for target in node.targets:
                if (
                    isinstance(target, ast.Attribute)
                    and target.attr == "requires_grad"
                    and not _is_true(node.value)
                ):
                    found.append((node, target.value))
        for node in self.facts.nodes_of(ast.Call):
            assert isinstance(node, ast.Call)
            if flow.method_name(node) == "requires_grad_":
                flag = node.args[0] if node.args else _keyword(node, "requires_grad")
                if flag is not None and not _is_true(flag):
                    found.append((node, node.func.value))  # type: ignore[attr-defined]
            elif self.facts.is_parameter_call(node):
                flag = node.args[1] if len(node.args) > 1 else _keyword(node, "requires_grad")
                if flag is not None and not _is_true(flag):
                    found.append((node, None))
        found.sort(key=lambda item: (item[0].lineno, item[0].col_offset))  # type: ignore[attr-defined]
        return found

    def freeze_gap(self, owners: Value) -> Gap | None:
        """A freeze outside the file's module classes that concerns one of ``owners`` (or
        any freeze of something unknown, when an owner is unknown too). Freezes inside a
        module class's methods are that class's (``_class_gap``)."""
        reachable: set[AbstractObject] = set()
        for owner in owners:
            reachable |= self.reachable(owner, 0)
        for node, receiver in self.freezes:
            if self._class_of(node) is not None:
                continue
            concerned = self._concerned(receiver) if receiver is not None else {UNKNOWN}
            if concerned & reachable:
                return Gap("parameters are frozen here", node)
        return None

    def _concerned(self, receiver: ast.expr) -> set[AbstractObject]:
        """The modules whose parameters a freeze of ``receiver`` changes. Of a receiver
        the file does not show, only a layer's or a parameter's spelling counts
        (``model.embed.requires_grad_(False)``), not a plain name or a ``.grad``
        (``grad.requires_grad_(False)`` detaches a gradient, it freezes nothing)."""
        value = self.evaluator.value_of(receiver)
        if value == {UNKNOWN} and not (
            isinstance(receiver, ast.Attribute) and receiver.attr != "grad"
        ):
            return set()
        found: set[AbstractObject] = set()
        for obj in value:
            if isinstance(obj, ParameterObject):
                found.add(obj.owner if obj.owner is not None else obj)
            elif isinstance(obj, ParameterIterable):
                found |= obj.owners
            else:
                found.add(obj)
        return found

    def reachable(self, obj: AbstractObject, depth: int = 0) -> set[AbstractObject]:
        """``obj`` and the layers it is built with (the fields its class sets,
        ``nn.Sequential`` parts), not those code puts in it later."""
        found = {obj}
        if depth > CALL_DEPTH or not isinstance(obj, ModuleObject):
            return found
        heap = self.evaluator.heap
        parts = heap.container_parts(obj)
        values = [self.evaluator.value_of(p) for p in parts or []]
        if not obj.torch_layer:
            values += [heap.field(obj, attr, built=True) for attr, _ in self._members(obj)]
        for value in values:
            for inner in value:
                if isinstance(inner, ModuleObject):
                    found |= self.reachable(inner, depth + 1)
        return found

    def _class_of(self, node: ast.AST) -> str | None:
        """The same-file module class whose method holds ``node``."""
        function = self.facts.enclosing_function(node)
        while function is not None:
            parent = self.facts.parents.get(function)
            if isinstance(parent, ast.ClassDef) and parent.name in self.facts.classes:
                return parent.name if self.facts.classes[parent.name].is_module else None
            function = self.facts.enclosing_function(function)
        return None

    def gap_of(self, value: Value, *, freezes: bool = True) -> Gap | None:
        """The first gap of ``value``'s modules; with ``freezes=False`` frozen parameters
        are no reason (the parameters were filtered on ``requires_grad``)."""
        for obj in sorted(value, key=position):
            gap = self._gap(obj, 0, freezes)
            if gap is not None:
                return gap
        return None

    def _gap(self, obj: AbstractObject, depth: int, freezes: bool) -> Gap | None:
        key = (obj, depth, freezes)
        if key not in self._gaps:
            self._gaps[key] = None  # a module holding itself: no gap from the cycle
            self._gaps[key] = self._compute(obj, depth, freezes)
        return self._gaps[key]

    def _compute(self, obj: AbstractObject, depth: int, freezes: bool) -> Gap | None:
        if depth > CALL_DEPTH or not isinstance(obj, ModuleObject):
            return None
        if obj.torch_layer:
            parts = self.evaluator.heap.container_parts(obj)
            if obj.layer == "Sequential" and parts is not None:
                for part in parts:
                    gap = self._gap_of_value(self.evaluator.value_of(part), depth, freezes)
                    if gap is not None:
                        return gap
            return None
        return self._class_gap(obj, depth, freezes)

    def _gap_of_value(self, value: Value, depth: int, freezes: bool) -> Gap | None:
        for obj in sorted(value, key=position):
            gap = self._gap(obj, depth + 1, freezes)
            if gap is not None:
                return gap
        return None

    def _class_gap(self, obj: ModuleObject, depth: int, freezes: bool) -> Gap | None:
        forward = self.evaluator.heap.method(obj, "forward")
        if forward is None:
            return None  # forward() of a class we cannot read: the file does not say
        layers: dict[str, tuple[ast.stmt, Value]] = {}
        for attr, store in self._members(obj):
            value = self.evaluator.heap.field(obj, attr)
            if any(isinstance(o, (ModuleObject, ParameterObject)) for o in value):
                layers[attr] = (store, value)
        for node, _ in self.freezes if freezes else []:
            if self._class_of(node) in self.evaluator.heap.lineage(obj):
                return Gap("parameters are frozen here", node)
        methods = self._reached_methods(obj, forward)
        for method in methods:
            gap = _branch_or_no_grad(self.facts, method, set(layers))
            if gap is not None:
                return gap
        used = {attr for method in methods for attr in _self_attributes(method)}
        for attr, (store, value) in layers.items():
            if attr not in used:
                return Gap(f"`{obj.class_name}.forward()` never uses `self.{attr}`", store)
            gap = self._gap_of_value(value, depth, freezes)
            if gap is not None:
                return gap
        return None

    def _members(self, obj: ModuleObject) -> list[tuple[str, ast.stmt]]:
        """``(attr, first store)`` for each ``self.<attr> = ...`` in the class's methods."""
        members: dict[str, ast.stmt] = {}
        for class_name in self.evaluator.heap.lineage(obj):
            info = self.facts.classes[class_name]
            for stmt in self.facts.class_statements(info.node):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]  # type: ignore[attr-defined]
                for target in targets:
                    attr = self_attribute(target)
                    if attr is not None:
                        members.setdefault(attr, stmt)
        return sorted(members.items(), key=lambda item: item[1].lineno)

    def _reached_methods(self, obj: ModuleObject, forward: ast.AST) -> list[ast.AST]:
        """``forward`` and the same-class methods it calls through ``self.<name>(...)``."""
        reached = [forward]
        index = 0
        while index < len(reached):
            for node in flow.walk_local(reached[index]):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and _is_self_attribute(node.func)
                ):
                    method = self.evaluator.heap.method(obj, node.func.attr)
                    if method is not None and method not in reached:
                        reached.append(method)
            index += 1
        return reached


def _branch_or_no_grad(facts: ModuleFacts, method: ast.AST, layers: set[str]) -> Gap | None:
    """A branch in ``forward`` whose arms read submodules (``if self.training: x =
    self.aux(x)``), or a ``with torch.no_grad():`` block that runs one."""
    for node in flow.walk_local(method):
        if isinstance(node, (ast.If, ast.IfExp)):
            arms = [node.body, node.orelse]
            if any(_self_attributes_in(arm) & layers for arm in arms):
                return Gap("a branch in `forward()` decides which layers run", node)
        elif isinstance(node, ast.Match) and _self_attributes_in(node.cases) & layers:  # type: ignore[arg-type]
            return Gap("a branch in `forward()` decides which layers run", node)
        elif (
            isinstance(node, (ast.With, ast.AsyncWith))
            and any(_is_no_grad(facts, item.context_expr) for item in node.items)
            and _self_attributes_in(node.body) & layers
        ):
            return Gap("`forward()` runs a layer under `torch.no_grad()`", node)
    return None


def _is_no_grad(facts: ModuleFacts, expr: ast.expr) -> bool:
    return isinstance(expr, ast.Call) and facts.qualify(expr.func) in _NO_GRAD


def _self_attributes_in(part: ast.AST | list[ast.stmt]) -> set[str]:
    nodes = part if isinstance(part, list) else [part]
    found: set[str] = set()
    for node in nodes:
        found |= _self_attributes(node)
    return found


def _self_attributes(node: ast.AST) -> set[str]:
    return {n.attr for n in flow.walk_local(node) if _is_self_attribute(n)}  # type: ignore[attr-defined]


def _is_self_attribute(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    )


def _is_true(expr: ast.AST) -> bool:
    return isinstance(expr, ast.Constant) and expr.value is True


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)
