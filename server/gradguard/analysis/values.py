"""Whether an expression holds a module, as far as the file shows it (GG508 and
``semantic.grad_values`` still ask here; GG101 reads ``semantic.kinds``).

Everything answers False for unknowns: rules stay silent rather than guess.
"""

from __future__ import annotations

import ast

from gradguard.analysis import flow, torchnames
from gradguard.analysis.facts import ClassInfo, ModuleFacts
from gradguard.analysis.memo import attributed


class ValueKinds:
    """Per-scope answers about names: built once per scope, then looked up."""

    def __init__(self, facts: ModuleFacts) -> None:
        self.facts = facts
        self._assignments: dict[ast.AST, dict[str, list[ast.expr]]] = {}

    # -- bindings ------------------------------------------------------------------

    def assignments(self, scope: flow.Scope) -> dict[str, list[ast.expr]]:
        """Every value assigned to each plain name in the scope (``for`` targets and
        other bindings are recorded as the scope's own statement so that they count
        as unknown values)."""
        if scope not in self._assignments:
            found: dict[str, list[ast.expr]] = {}
            for info in self.facts.statements_of(scope):
                node = info.node
                if isinstance(node, ast.Assign) and len(node.targets) == 1:
                    target = node.targets[0]
                    if isinstance(target, ast.Name):
                        found.setdefault(target.id, []).append(node.value)
                        continue
                    pairs = _unpacked_pairs(target, node.value)
                    if pairs is not None:  # ``actor, critic = Actor(), Critic()``
                        for name, value in pairs:
                            found.setdefault(name, []).append(value)
                        continue
                for target in flow.assigned_targets(node):
                    if isinstance(target, ast.Name):
                        # Unknown value: an ast.Name of itself never matches a kind.
                        found.setdefault(target.id, []).append(target)
                for child in flow.own_nodes(node):
                    if isinstance(child, ast.NamedExpr):
                        found.setdefault(child.target.id, []).append(child.value)
            self._assignments[scope] = found
        return self._assignments[scope]

    def values_of(self, name: str, scope: flow.Scope) -> list[ast.expr] | None:
        """All values the name is assigned in its scope (module level when the
        function does not bind it); None when it is a parameter or unbound."""
        local = self.assignments(scope)
        if name in local:
            return local[name]
        if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = scope.args
            every = arguments.posonlyargs + arguments.args + arguments.kwonlyargs
            if any(a.arg == name for a in every):
                return None
            return self.assignments(self.facts.tree).get(name)
        return None

    # -- modules -------------------------------------------------------------------

    @attributed(lambda kinds: kinds.facts)
    def module_class(self, expr: ast.AST, scope: flow.Scope, _depth: int = 0) -> ClassInfo | None:
        """The same-file module class an expression is an instance of, if known."""
        if _depth > 4:
            return None
        if isinstance(expr, ast.Call):
            if isinstance(expr.func, ast.Name) and expr.func.id in self.facts.classes:
                called = self.facts.classes[expr.func.id]
                return called if called.is_module else None
            if flow.method_name(expr) in torchnames.MOVE_METHODS:
                return self.module_class(expr.func.value, scope, _depth + 1)  # type: ignore[attr-defined]
            return None
        if isinstance(expr, ast.Name):
            if expr.id == "self":
                enclosing = self.facts.class_info_of(expr)
                return enclosing if enclosing is not None and enclosing.is_module else None
            values = _without_self_moves(expr.id, self.values_of(expr.id, scope))
            found = [self.module_class(v, scope, _depth + 1) for v in values or ()]
            if found and all(c is not None and c is found[0] for c in found):
                return found[0]
            return None
        if isinstance(expr, ast.Attribute):
            owner = self.module_class(expr.value, scope, _depth + 1)
            if owner is not None and expr.attr in owner.submodules:
                return self.module_class(owner.submodules[expr.attr], scope, _depth + 1)
        return None

    @attributed(lambda kinds: kinds.facts)
    def is_module(self, expr: ast.AST, scope: flow.Scope, _depth: int = 0) -> bool:
        """The expression certainly holds an ``nn.Module`` (every assignment of a name
        is a module constructor, a factory, or a move of a module)."""
        if _depth > 4:
            return False
        if isinstance(expr, ast.Call):
            if self.facts.is_module_call(expr):
                return True
            method = flow.method_name(expr)
            if method in torchnames.MOVE_METHODS or method in ("train", "eval"):
                return self.is_module(expr.func.value, scope, _depth + 1)  # type: ignore[attr-defined]
            return False
        if isinstance(expr, ast.Name):
            if expr.id == "self":
                info = self.facts.class_info_of(expr)
                return info is not None and info.is_module
            values = _without_self_moves(expr.id, self.values_of(expr.id, scope))
            return bool(values) and all(self.is_module(v, scope, _depth + 1) for v in values or ())
        if isinstance(expr, ast.Attribute):
            owner = self.module_class(expr.value, scope)
            if owner is not None:
                return expr.attr in owner.submodules
            return self._self_attribute_is_module(expr, _depth)
        return False

    def _self_attribute_is_module(self, expr: ast.Attribute, _depth: int) -> bool:
        """``self.actor`` in a plain class (an agent, a trainer) whose methods assign
        ``self.actor`` only modules (``self.actor = Actor().to(device)``)."""
        if not (isinstance(expr.value, ast.Name) and expr.value.id == "self"):
            return False
        info = self.facts.class_info_of(expr)
        if info is None:
            return False
        name = f"self.{expr.attr}"
        values: list[tuple[ast.expr, flow.Scope]] = []
        for method in info.methods.values():
            for node in ast.walk(method):
                if isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                    if flow.dotted_name(node.target) == name:
                        return False  # annotated or augmented: not judged
                    continue
                if not isinstance(node, ast.Assign):
                    continue
                for target in node.targets:
                    if flow.dotted_name(target) == name:
                        values.append((node.value, method))
                    elif any(flow.dotted_name(t) == name for t in flow.assigned_targets(node)):
                        return False  # unpacked from something: unknown
        return bool(values) and all(self.is_module(v, m, _depth + 1) for v, m in values)


def _unpacked_pairs(target: ast.expr, value: ast.expr) -> list[tuple[str, ast.expr]] | None:
    """``a, b = x, y`` as ``[("a", x), ("b", y)]`` (plain names, same length, no
    starred element); None for any other shape."""
    if not (isinstance(target, ast.Tuple | ast.List) and isinstance(value, ast.Tuple | ast.List)):
        return None
    if len(target.elts) != len(value.elts):
        return None
    if not all(isinstance(t, ast.Name) for t in target.elts):
        return None
    if any(isinstance(v, ast.Starred) for v in value.elts):
        return None
    return [(t.id, v) for t, v in zip(target.elts, value.elts, strict=True)]  # type: ignore[attr-defined]


def _without_self_moves(name: str, values: list[ast.expr] | None) -> list[ast.expr] | None:
    """Drop ``model = model.to(device)`` (and ``.train()``/``.eval()``): it keeps the kind."""
    if values is None:
        return None
    return [
        value
        for value in values
        if not (
            isinstance(value, ast.Call)
            and (
                flow.method_name(value) in torchnames.MOVE_METHODS
                or flow.method_name(value) in ("train", "eval")
            )
            and isinstance(value.func.value, ast.Name)  # type: ignore[attr-defined]
            and value.func.value.id == name  # type: ignore[attr-defined]
        )
    ]
