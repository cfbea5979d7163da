"""Which attributes are registered parameters, as far as the file shows it.

A parameter is known from a ``torch.nn`` layer's parameter names (``weight``, ``bias``,
``weight_ih_l0``...) on a value known to be that layer, from ``nn.Parameter(...)``
assignments and ``register_parameter`` calls in a module class of the file, and from
``<module>.<name> = nn.Parameter(...)`` / ``<module>.register_parameter(...)`` on a
module variable. Everything else is unknown, and unknown answers False.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from gradguard.analysis import flow, torchnames
from gradguard.analysis.facts import ClassInfo, ModuleFacts
from gradguard.semantic.catalogue.layers import layer_has_parameter
from gradguard.semantic.objects import ModuleObject
from gradguard.semantic.reads import ReadLog


@dataclass(frozen=True)
class ModuleType:
    """What a module value is: ``torch.nn`` layers (several after an ``isinstance``
    with a tuple), a module class of this file, or a module of unknown class."""

    layers: tuple[str, ...] = ()
    info: ClassInfo | None = None
    # The constructor call, when the value was built by one (for ``bias=False``).
    call: ast.Call | None = None

    @property
    def class_name(self) -> str | None:
        if self.info is not None:
            return self.info.name
        return self.layers[0] if len(self.layers) == 1 else None


def _disabled_by_flag(call: ast.Call | None, name: str) -> bool:
    """``nn.Linear(2, 2, bias=False)`` leaves ``bias`` as None (not a parameter)."""
    if call is None:
        return False
    for keyword in call.keywords:
        flags = torchnames.OPTIONAL_PARAMETER_FLAGS.get(keyword.arg or "", ())
        value = keyword.value
        if name in flags and isinstance(value, ast.Constant) and value.value is False:
            return True
    return False


def _has_parameter_flag(call: ast.Call) -> bool:
    return any((k.arg or "") in torchnames.OPTIONAL_PARAMETER_FLAGS for k in call.keywords)


class ParameterIndex:
    """Answers "is ``base.attr`` a registered parameter here?" for one file."""

    def __init__(self, facts: ModuleFacts) -> None:
        self.facts = facts
        self._bindings: dict[ast.AST, dict[str, list[ast.expr | None]]] = {}
        self._registrations: dict[ast.AST, dict[str, list[tuple[int, str]]]] = {}

    # -- module types -------------------------------------------------------------

    def module_type(self, expr: ast.AST, _depth: int = 0) -> ModuleType | None:
        if _depth > 5:
            return None
        if isinstance(expr, ast.Call):
            return self._type_of_call(expr, _depth)
        if isinstance(expr, ast.Name):
            return self._type_of_name(expr, _depth)
        if isinstance(expr, ast.Attribute):
            owner = self.module_type(expr.value, _depth + 1)
            if owner is not None and owner.info is not None:
                call = self._submodule_call(owner.info, expr.attr)
                if call is not None:
                    return self._type_of_call(call, _depth + 1)
            assigned = self._attribute_assigned_before(expr)
            if assigned is not None:
                return self._type_of_call(assigned, _depth + 1)
        return self._type_from_model(expr) if _depth == 0 else None

    def _type_from_model(self, expr: ast.AST) -> ModuleType | None:
        """What the semantic model says ``expr`` holds, when the names above do not:
        ``model[0]`` of an ``nn.Sequential``, an alias, a layer a helper returns."""
        from gradguard.semantic.model import SemanticModel  # the model builds on facts

        value = SemanticModel.of(self.facts).value_of(expr)
        modules = [o for o in value if isinstance(o, ModuleObject)]
        if not modules or len(modules) != len(value):
            return None
        calls = [o.site for o in modules if isinstance(o.site, ast.Call)]
        call = calls[0] if len(calls) == 1 == len(modules) else None
        if call is None and any(_has_parameter_flag(c) for c in calls):
            return None  # several layers, some maybe built without a bias: not known
        if all(o.torch_layer for o in modules):
            return ModuleType(layers=tuple(sorted({o.layer for o in modules})), call=call)
        names = {o.class_name for o in modules}
        if len(names) == 1 and (name := names.pop()) in self.facts.classes:
            return ModuleType(info=self.facts.classes[name], call=call)
        return None

    def _attribute_assigned_before(self, expr: ast.Attribute) -> ast.Call | None:
        """``model.fc = nn.Linear(...)`` earlier in the same scope (the fine-tuning head
        of a model whose class the file cannot see), with neither ``model`` nor
        ``model.fc`` bound again in between: the layer that ``model.fc`` holds."""
        dotted = flow.dotted_name(expr)
        if dotted is None or dotted.startswith("self."):
            return None
        root = dotted.split(".", 1)[0]
        line = expr.lineno
        found: ast.Call | None = None
        for info in self.facts.statements_of(self.facts.enclosing_scope(expr)):
            stmt = info.node
            if stmt.lineno >= line:
                break
            targets = [flow.dotted_name(t) for t in flow.assigned_targets(stmt)]
            if root in targets or any(t and dotted.startswith(t + ".") for t in targets):
                found = None
            if dotted in targets:
                value = stmt.value if isinstance(stmt, ast.Assign) else None
                single = isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                found = value if single and isinstance(value, ast.Call) else None
        if found is not None and self.facts.is_module_call(found):
            return found
        return None

    def _submodule_call(self, info: ClassInfo, attr: str) -> ast.Call | None:
        for cls in self.class_lineage(info):
            if attr in cls.submodules:
                return cls.submodules[attr]
        return None

    def _type_of_call(self, call: ast.Call, depth: int) -> ModuleType | None:
        method = flow.method_name(call)
        if method in torchnames.MOVE_METHODS or method in ("train", "eval"):
            return self.module_type(call.func.value, depth + 1)  # type: ignore[attr-defined]
        if not self.facts.is_module_call(call):
            return None
        if isinstance(call.func, ast.Name) and call.func.id in self.facts.classes:
            return ModuleType(info=self.facts.classes[call.func.id], call=call)
        if isinstance(call.func, ast.Name) and call.func.id in self.facts.functions:
            returned = self._factory_type(self.facts.functions[call.func.id], depth)
            return returned if returned is not None else ModuleType()
        layer = self._layer_name(call.func)
        return ModuleType(layers=(layer,) if layer else (), call=call)

    def _factory_type(
        self, function: ast.FunctionDef | ast.AsyncFunctionDef, depth: int
    ) -> ModuleType | None:
        """What a same-file factory returns, when every ``return`` agrees."""
        found: list[ModuleType] = []
        for node in flow.walk_local(function):
            if isinstance(node, ast.Return) and node.value is not None:
                kind = self.module_type(node.value, depth + 1)
                if kind is None:
                    return None
                found.append(kind)
        if len(found) == 1:
            return found[0]
        if found and all(k.info is found[0].info and k.layers == found[0].layers for k in found):
            return ModuleType(found[0].layers, found[0].info)
        return None

    def _layer_name(self, expr: ast.AST) -> str | None:
        qualified = self.facts.qualify(expr) or ""
        if torchnames.is_module_class_qualname(qualified):
            return qualified.rsplit(".", 1)[-1]
        return None

    def _type_of_name(self, name: ast.Name, depth: int) -> ModuleType | None:
        narrowed = self._isinstance_narrowing(name)
        if narrowed is not None:
            return narrowed
        if name.id == "self":
            info = self.facts.class_info_of(name)
            return ModuleType(info=info) if info is not None and info.is_module else None
        values = self.values_of(name)
        if not values:
            return None
        found: list[ModuleType] = []
        for value in values:
            if value is None:
                return None
            here = self.facts.enclosing_scope(value) is self.facts.enclosing_scope(name)
            if here and _moves_itself(value, name.id):
                continue  # ``model = model.to(device)`` keeps the type
            kind = self.module_type(value, depth + 1)
            if kind is None:
                return None
            found.append(kind)
        if not found:
            return None
        first = found[0]
        same = all(k.info is first.info and k.layers == first.layers for k in found)
        if not same:
            return None
        calls = {id(k.call) for k in found}
        return first if len(calls) == 1 else ModuleType(first.layers, first.info)

    def _isinstance_narrowing(self, name: ast.Name) -> ModuleType | None:
        """``if isinstance(m, nn.Linear): <here>`` makes ``m`` a Linear."""
        child: ast.AST = name
        for parent in self.facts.ancestors(name):
            if isinstance(parent, flow.SCOPE_TYPES):
                return None
            if isinstance(parent, ast.If) and any(s is child for s in parent.body):
                narrowed = self._isinstance_type(parent.test, name.id)
                if narrowed is not None:
                    return narrowed
            child = parent
        return None

    def _isinstance_type(self, test: ast.expr, name: str) -> ModuleType | None:
        if not (
            isinstance(test, ast.Call)
            and isinstance(test.func, ast.Name)
            and test.func.id == "isinstance"
            and len(test.args) == 2
            and isinstance(test.args[0], ast.Name)
            and test.args[0].id == name
        ):
            return None
        classes = test.args[1]
        options = classes.elts if isinstance(classes, ast.Tuple) else [classes]
        layers: list[str] = []
        for option in options:
            if isinstance(option, ast.Name) and option.id in self.facts.classes:
                if len(options) == 1 and self.facts.classes[option.id].is_module:
                    return ModuleType(info=self.facts.classes[option.id])
                return None
            layer = self._layer_name(option)
            if layer is None:
                return None
            layers.append(layer)
        return ModuleType(layers=tuple(layers))

    # -- bindings ----------------------------------------------------------------

    def values_of(self, name: ast.Name) -> list[ast.expr | None] | None:
        scope = self.facts.enclosing_scope(name)
        local = self._scope_bindings(scope)
        if name.id in local:
            return local[name.id]
        if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = scope.args
            every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
            if arguments.vararg:
                every.append(arguments.vararg)
            if arguments.kwarg:
                every.append(arguments.kwarg)
            for argument in every:
                if argument.arg == name.id:
                    annotated = self._annotation_value(argument.annotation)
                    if annotated is None:
                        passed = self._passed_values(scope, argument)
                        if passed:
                            return passed
                    return [annotated]
            return self._scope_bindings(self.facts.tree).get(name.id)
        return None

    def _passed_values(
        self, function: ast.FunctionDef | ast.AsyncFunctionDef, argument: ast.arg
    ) -> list[ast.expr | None] | None:
        """``def train(model, ...)`` at module level, called in this file only as
        ``train(net, ...)``: the values passed for ``argument`` at every call. None when
        the function escapes (passed as a callback, decorated) or a call cannot be
        matched, so an unknown caller can never be assumed away."""
        if self.facts.functions.get(function.name) is not function or function.decorator_list:
            return None
        arguments = function.args
        if argument in arguments.kwonlyargs or argument in (arguments.vararg, arguments.kwarg):
            return None
        position = [*arguments.posonlyargs, *arguments.args].index(argument)
        values: list[ast.expr | None] = []
        reads = ReadLog.of(self.facts)
        if reads is not None:  # every call of it, and what the callers pass
            reads.scan(rf"\b{re.escape(function.name)}\b", by=function)
        for node in self.facts.names_by_id.get(function.name, ()):
            call = self.facts.parents.get(node)
            if reads is not None:
                reads.read_calls(node, by=function)
            if not (isinstance(call, ast.Call) and call.func is node):
                return None  # the function escapes: unknown callers
            if any(isinstance(a, ast.Starred) for a in call.args) or any(
                k.arg is None for k in call.keywords
            ):
                return None
            if position < len(call.args):
                values.append(call.args[position])
                continue
            keyword = next((k for k in call.keywords if k.arg == argument.arg), None)
            if keyword is None:
                return None  # a default value: not a module we can see
            values.append(keyword.value)
        return values or None

    def _annotation_value(self, annotation: ast.expr | None) -> ast.expr | None:
        """``m: nn.Linear`` is treated as ``m = nn.Linear()`` (a call with no arguments)."""
        if annotation is None or not isinstance(annotation, (ast.Name, ast.Attribute)):
            return None
        call = ast.Call(func=annotation, args=[], keywords=[])
        ast.copy_location(call, annotation)
        return call

    def _scope_bindings(self, scope: ast.AST) -> dict[str, list[ast.expr | None]]:
        """Every value bound to each plain name in the scope; None for a binding
        whose value is unknown (``for`` targets, unpacking, ``with ... as``)."""
        if scope not in self._bindings:
            found: dict[str, list[ast.expr | None]] = {}
            walruses = bool(self.facts.nodes_of(ast.NamedExpr))  # else no statement to scan
            for info in self.facts.statements_of(scope):  # type: ignore[arg-type]
                node = info.node
                value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
                for target in flow.assigned_targets(node):
                    if not isinstance(target, ast.Name):
                        continue
                    direct = value is not None and any(t is target for t in _direct_targets(node))
                    found.setdefault(target.id, []).append(value if direct else None)
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    found.setdefault(node.name, []).append(None)
                if not walruses:
                    continue
                for child in flow.own_nodes(node):
                    if isinstance(child, ast.NamedExpr):
                        found.setdefault(child.target.id, []).append(child.value)
            self._bindings[scope] = found
        return self._bindings[scope]

    # -- parameters ----------------------------------------------------------------

    def is_parameter(self, base: ast.expr, attr: str, at: ast.AST) -> bool:
        """``base.attr`` names a registered parameter at the statement ``at``."""
        kind = self.module_type(base)
        if kind is None:
            return False
        if kind.info is not None and self._class_has_parameter(kind.info, attr):
            return True
        layers = kind.layers or self.inherited_layers(kind.info)
        if layers and all(layer_has_parameter(layer, attr) for layer in layers):
            return not _disabled_by_flag(kind.call, attr)
        return self._registered_on_variable(base, attr, at)

    def class_lineage(self, info: ClassInfo) -> list[ClassInfo]:
        lineage: list[ClassInfo] = []
        pending = [info]
        while pending:
            current = pending.pop()
            if current in lineage:
                continue
            lineage.append(current)
            for base in current.base_names:
                local = self.facts.classes.get(base)
                if local is not None:
                    pending.append(local)
        return lineage

    def _class_has_parameter(self, info: ClassInfo, attr: str) -> bool:
        return any(attr in cls.parameters for cls in self.class_lineage(info))

    def inherited_layers(self, info: ClassInfo | None) -> tuple[str, ...]:
        """``class MyLinear(nn.Linear)`` inherits Linear's parameters."""
        if info is None:
            return ()
        for cls in self.class_lineage(info):
            for base in cls.base_names:
                last = base.rsplit(".", 1)[-1]
                if torchnames.is_module_class_qualname(base):
                    return (last,)
        return ()

    def _registered_on_variable(self, base: ast.expr, attr: str, at: ast.AST) -> bool:
        """``model.extra = nn.Parameter(...)`` or ``model.register_parameter("extra", p)``
        earlier in the same scope."""
        dotted = flow.dotted_name(base)
        if dotted is None:
            return False
        line = getattr(at, "lineno", 0)
        scope = self.facts.enclosing_scope(at)
        found = self._scope_registrations(scope).get(dotted, [])
        return any(where < line and name == attr for where, name in found)

    def _scope_registrations(self, scope: ast.AST) -> dict[str, list[tuple[int, str]]]:
        if scope not in self._registrations:
            found: dict[str, list[tuple[int, str]]] = {}
            if not (self.facts.mentions("Parameter") or self.facts.mentions("register_parameter")):
                self._registrations[scope] = found  # both kinds of registration spell one
                return found
            for info in self.facts.statements_of(scope):  # type: ignore[arg-type]
                for node in flow.own_nodes(info.node):
                    registered = self._registration(node)
                    if registered is not None:
                        owner, name = registered
                        found.setdefault(owner, []).append((info.node.lineno, name))
            self._registrations[scope] = found
        return self._registrations[scope]

    def _registration(self, node: ast.AST) -> tuple[str, str] | None:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and self.facts.is_parameter_call(node.value)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Attribute)
        ):
            target = node.targets[0]
            owner = flow.dotted_name(target.value)
            return (owner, target.attr) if owner else None
        if (
            isinstance(node, ast.Call)
            and flow.method_name(node) == "register_parameter"
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            value = node.args[1]
            if isinstance(value, ast.Constant) and value.value is None:
                return None
            owner = flow.dotted_name(node.func.value)  # type: ignore[attr-defined]
            return (owner, node.args[0].value) if owner else None
        return None


def _direct_targets(node: ast.stmt) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        return node.targets
    if isinstance(node, ast.AnnAssign):
        return [node.target]
    return []


def _moves_itself(value: ast.expr, name: str) -> bool:
    """``model.to(device)`` / ``model.cuda()`` on the same name."""
    while isinstance(value, ast.Call) and flow.method_name(value) in (
        *torchnames.MOVE_METHODS,
        "train",
        "eval",
    ):
        value = value.func.value  # type: ignore[attr-defined]
    return isinstance(value, ast.Name) and value.id == name


def parameter_index(facts: ModuleFacts) -> ParameterIndex:
    """One index per analysed file, shared by the rules that ask."""
    return facts.shared(ParameterIndex, lambda: ParameterIndex(facts))


# -- names the fixes write -------------------------------------------------------------


def local_name_for(facts: ModuleFacts, qualified: str) -> str | None:
    """How the file spells ``qualified`` (``torch.nn`` -> ``nn``, ``tnn``, or
    ``torch.nn`` when only ``torch`` is imported); None when it cannot. The longest
    imported prefix wins; among several names for it, :func:`_aliases_of` decides."""
    parts = qualified.split(".")
    for size in range(len(parts), 0, -1):
        aliases = _aliases_of(facts, ".".join(parts[:size]))
        if aliases:
            return ".".join([aliases[0], *parts[size:]])
    return None


def torch_name(facts: ModuleFacts) -> str | None:
    """The local name bound to the ``torch`` package (``torch``, ``T``), if any."""
    return local_name_for(facts, "torch")


def no_grad_call(facts: ModuleFacts) -> str | None:
    """``torch.no_grad()`` spelled the way this file can call it (``no_grad()`` after
    ``from torch import no_grad`` or ``from torch.autograd import no_grad``), or None."""
    for qualified in ("torch.no_grad", "torch.autograd.no_grad"):
        aliases = _aliases_of(facts, qualified)
        if aliases:
            return f"{aliases[0]}()"
    torch = torch_name(facts)
    return f"{torch}.no_grad()" if torch else None


def _aliases_of(facts: ModuleFacts, qualified: str) -> list[str]:
    """The local names bound to exactly ``qualified``, best first: the one spelled like
    its last part (``torch`` for ``torch``, ``nn`` for ``torch.nn``), then by name."""
    last = qualified.rpartition(".")[2]
    names = [local for local, target in facts.imports.aliases.items() if target == qualified]
    return sorted(names, key=lambda local: (local != last, local))
