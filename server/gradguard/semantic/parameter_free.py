"""Which models surely hold no parameters: same-file ``nn.Module`` classes whose layers
keep their weights as buffers (``self.register_buffer("weight", ...)``), so
``model.parameters()`` is empty (GG101).

A model counts only when the file shows all of it: every class of its lineage is in the
file (down to ``nn.Module``), nothing in them makes or registers a parameter or hands
``self`` to a call, and every value stored in its fields (by its methods or by any code
holding it) is a tensor, ``None``, a constant, a parameter-free ``torch.nn`` layer or
such a model again. No model is passed to a call that could add parameters.
"""

from __future__ import annotations

import ast
from functools import cached_property

from gradguard.analysis import flow
from gradguard.semantic.catalogue.parameter_free import PARAMETER_FREE_LAYERS
from gradguard.semantic.limits import CALL_DEPTH
from gradguard.semantic.object_optimizers import only_kept
from gradguard.semantic.objects import NONE, AbstractObject, ModuleObject, TensorObject
from gradguard.semantic.values import Evaluator

_MODULE_BASES = frozenset({"torch.nn.Module", "torch.nn.modules.module.Module"})
_REGISTERS = frozenset({"register_parameter", "add_module", "register_module", "setattr"})


class ParameterFree:
    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator
        self.facts = evaluator.facts
        self.heap = evaluator.heap

    @cached_property
    def buffer_registrations(self) -> dict[str, ast.Call]:
        """``{class name: its first self.register_buffer(...) call}``."""
        found: dict[str, ast.Call] = {}
        for info in self.facts.classes.values():
            for call in (n for n in ast.walk(info.node) if isinstance(n, ast.Call)):
                if flow.method_name(call) == "register_buffer" and _on_self(call):
                    found.setdefault(info.name, call)
                    break
        return found

    def buffer_site(self, obj: AbstractObject, depth: int = 0) -> ast.Call | None:
        """The ``register_buffer`` call of a model with no parameters (it or one of its
        sub-models keeps its weights as buffers), or None when it may have some."""
        if not isinstance(obj, ModuleObject) or not self.is_parameter_free(obj, depth):
            return None
        for name in self.heap.lineage(obj):
            if name in self.buffer_registrations:
                return self.buffer_registrations[name]
        for value in self._stored_values(obj):
            for part in value:
                site = self.buffer_site(part, depth + 1) if depth < CALL_DEPTH else None
                if site is not None:
                    return site
        return None

    def is_parameter_free(self, obj: AbstractObject, depth: int = 0) -> bool:
        if isinstance(obj, ModuleObject) and obj.torch_layer:
            return obj.layer in PARAMETER_FREE_LAYERS
        if not isinstance(obj, ModuleObject) or depth > CALL_DEPTH or not self._class_is_plain(obj):
            return False
        if self._passed_to_a_call(obj):
            return False
        for value in self._stored_values(obj):
            for part in value:
                if isinstance(part, TensorObject) or part is NONE:
                    continue
                if not self.is_parameter_free(part, depth + 1):
                    return False
        return True

    def _class_is_plain(self, obj: ModuleObject) -> bool:
        lineage = self.heap.lineage(obj)
        if not lineage:
            return False
        for name in lineage:
            info = self.facts.classes[name]
            local = [b for b in info.base_names if b in self.facts.classes]
            others = [b for b in info.base_names if b not in self.facts.classes]
            # One chain of same-file classes down to nn.Module (no mixin we do not follow).
            if len(local) > 1 or any(b not in _MODULE_BASES for b in others):
                return False
            if info.parameters:
                return False
            for node in ast.walk(info.node):
                if isinstance(node, ast.Call) and self._may_add_parameters(node):
                    return False
        return True

    def _may_add_parameters(self, call: ast.Call) -> bool:
        if self.facts.is_parameter_call(call) or flow.method_name(call) in _REGISTERS:
            return True
        if isinstance(call.func, ast.Name) and call.func.id in _REGISTERS:
            return True
        arguments = [*call.args, *(k.value for k in call.keywords)]
        return any(isinstance(a, ast.Name) and a.id == "self" for a in arguments)

    def _stored_values(self, obj: ModuleObject) -> list[frozenset[AbstractObject]]:
        """Every value stored in a field of ``obj``; a store whose value is unknown is
        kept only when it is a constant (``self.dim = dim`` with ``Net(4)``)."""
        values: list[frozenset[AbstractObject]] = []
        evaluate = self.evaluator.value_of
        for stores in self.heap.stores.values():
            for target, statement in stores:
                for frame in self.heap._frames_for(obj, statement):
                    if obj not in evaluate(target.value, frame):
                        continue
                    value = statement.value  # type: ignore[attr-defined]
                    unpacked = target not in getattr(statement, "targets", [target])
                    if unpacked or not self._is_constant(value, obj):
                        values.append(evaluate(value, frame))
        return values

    def _is_constant(self, expr: ast.expr, obj: ModuleObject, inside: bool = True) -> bool:
        """A literal, or (``inside`` the class) a parameter of ``__init__`` that the call
        that made the model passes a literal (``self.dim = dim`` with ``Net(4)``)."""
        if isinstance(expr, ast.Constant):
            return True
        if isinstance(expr, (ast.Tuple, ast.List)):
            return all(self._is_constant(e, obj, inside) for e in expr.elts)
        if isinstance(expr, ast.BinOp):
            return self._is_constant(expr.left, obj, inside) and self._is_constant(
                expr.right, obj, inside
            )
        if isinstance(expr, ast.Name) and inside:
            argument = self._init_argument(obj, expr.id)
            return argument is not None and self._is_constant(argument, obj, inside=False)
        return False

    def _init_argument(self, obj: ModuleObject, name: str) -> ast.expr | None:
        """What the call that made ``obj`` passes as ``__init__``'s ``name``."""
        init = self.heap.method(obj, "__init__")
        call = obj.site
        if init is None or not isinstance(call, ast.Call):
            return None
        if any(isinstance(a, ast.Starred) for a in call.args) or any(
            k.arg is None for k in call.keywords
        ):
            return None
        positional = [a.arg for a in [*init.args.posonlyargs, *init.args.args]][1:]
        keyword = next((k.value for k in call.keywords if k.arg == name), None)
        if keyword is not None:
            return keyword
        if name in positional and positional.index(name) < len(call.args):
            argument = call.args[positional.index(name)]
            return None if isinstance(argument, ast.Starred) else argument
        defaults = dict(zip(reversed(positional), reversed(init.args.defaults), strict=False))
        return defaults.get(name)

    def _passed_to_a_call(self, obj: ModuleObject) -> bool:
        """The file hands the model to a call (``weight_norm(model)``, ``init(model)``)
        that could add parameters; optimizers, ``model(x)`` and a same-file trainer that
        only keeps it (``Trainer(model)``) do not."""
        for call in self.facts.nodes_of(ast.Call):
            if self.facts.is_optimizer_call(call):  # type: ignore[arg-type]
                continue
            arguments = [*call.args, *(k.value for k in call.keywords)]  # type: ignore[attr-defined]
            for argument in arguments:
                if (
                    isinstance(argument, (ast.Name, ast.Attribute))
                    and obj in self.evaluator.value_of(argument)
                    and not only_kept(self.facts, call, argument)  # type: ignore[arg-type]
                ):
                    return True
        return False


def _on_self(call: ast.Call) -> bool:
    receiver = call.func.value  # type: ignore[attr-defined]
    return isinstance(receiver, ast.Name) and receiver.id == "self"
