"""Registered parameters: is ``base.attr`` a parameter the module registered?

It is when every object ``base`` may hold registers ``attr``: a ``torch.nn`` layer's own
parameter names (``catalogue/layers.py``), an ``nn.Parameter(...)`` or
``register_parameter`` of a same-file module class (or of a ``torch.nn`` layer it
subclasses), or ``<that object>.attr = nn.Parameter(...)`` earlier in the same scope.
What ``base`` holds comes from the model, narrowed by an enclosing ``isinstance`` test
or an annotation; in a module-level function that nothing but the file's own calls can
reach, a parameter holds what those calls pass. Anything unknown answers False.
"""

from __future__ import annotations

import ast
from functools import cached_property

from gradguard.analysis import flow, torchnames
from gradguard.semantic import narrowing
from gradguard.semantic.catalogue.layers import layer_has_parameter
from gradguard.semantic.model import SemanticModel
from gradguard.semantic.objects import EMPTY, UNKNOWN, AbstractObject, ModuleObject, Value


class RegisteredParameters:
    def __init__(self, model: SemanticModel) -> None:
        self.model = model
        self.facts = model.facts

    @classmethod
    def of(cls, model: SemanticModel) -> RegisteredParameters:
        return model.facts.shared("registered parameters", lambda: cls(model))

    def is_parameter(self, base: ast.expr, attr: str, at: ast.stmt) -> bool:
        """``base.attr`` names a registered parameter when ``at`` runs."""
        if not self.may_register(attr):
            return False
        modules = self.modules(base, at)
        return bool(modules) and all(self.registers(obj, attr, at) for obj in modules)

    def holds_parameter(self, base: ast.expr, attr: str, at: ast.stmt) -> bool:
        """``base.attr`` is a registered parameter that holds one: not a ``bias`` that
        ``nn.Linear(..., bias=False)`` registered as None."""
        if not self.may_register(attr):
            return False
        modules = self.modules(base, at)
        if not modules or not all(self.registers(obj, attr, at) for obj in modules):
            return False
        calls = [c for obj in modules if isinstance(c := _layer_call(obj, attr), ast.Call)]
        if len(modules) == 1:
            return not any(_flag(call, attr) is False for call in calls)
        return not any(_flag(call, attr) is not None for call in calls)

    def may_register(self, attr: str) -> bool:
        """False when no module of this file can register ``attr``: not a ``torch.nn``
        layer's parameter name, never stored as an ``nn.Parameter(...)`` nor given to
        ``register_parameter`` (what :meth:`registers` asks of every object), so most
        ``self.<attr> = ...`` need no value. In the editor (reads recorded) it is always
        True: the full question records what its answer depends on."""
        known = self._may_register.get(attr)
        if known is None:
            known = self._may_register[attr] = (
                torchnames.is_layer_parameter_name(attr)
                or attr in self._parameter_names
                or self.model.evaluator.reads is not None
            )
        return known

    @cached_property
    def _may_register(self) -> dict[str, bool]:
        return {}

    @cached_property
    def _parameter_names(self) -> frozenset[str]:
        """Every attribute some statement stores an ``nn.Parameter(...)`` in, and every
        literal name given to ``register_parameter`` (None or not)."""
        names: set[str] = set()
        # Every spelling of ``torch.nn.Parameter`` (an import, an alias, ``nn.Parameter``)
        # writes the word somewhere in the file.
        stores = (ast.Assign, ast.AnnAssign) if self.facts.mentions("Parameter") else ()
        for kind in stores:
            for node in self.facts.nodes_of(kind):
                value = node.value  # type: ignore[attr-defined]
                if isinstance(value, ast.Call) and self.facts.is_parameter_call(value):
                    targets = node.targets if kind is ast.Assign else [node.target]  # type: ignore[attr-defined]
                    names.update(
                        part.attr
                        for target in targets
                        for part in ast.walk(target)
                        if isinstance(part, ast.Attribute)
                    )
        if self.facts.mentions("register_parameter"):
            for call in self.facts.nodes_of(ast.Call):
                args = call.args  # type: ignore[attr-defined]
                named = args and isinstance(args[0], ast.Constant)
                if named and flow.method_name(call) == "register_parameter":  # type: ignore[arg-type]
                    names.add(str(args[0].value))
        return frozenset(names)

    def layers_of(self, base: ast.expr, attr: str, at: ast.stmt) -> tuple[str, ...]:
        """The ``torch.nn`` layers whose parameter ``base.attr`` is (empty for a parameter
        a same-file class makes itself)."""
        layers: set[str] = set()
        for obj in self.modules(base, at):
            assert isinstance(obj, ModuleObject)
            if obj.torch_layer:
                layers.add(obj.layer)
            elif any(attr in self.facts.classes[c].parameters for c in self._lineage(obj)):
                return ()
            else:
                layers.update(self._inherited_layers(obj)[:1])
        return tuple(sorted(layers))

    def class_name(self, base: ast.expr, at: ast.stmt) -> str | None:
        """``Net`` / ``Linear``: the one class of the module ``base`` holds, if known."""
        names = {_class_of(obj, self.facts.classes) for obj in self.modules(base, at)}
        return names.pop() if len(names) == 1 else None

    def modules(self, base: ast.expr, at: ast.stmt) -> Value:
        """The modules ``base`` holds at ``at``, every one known; EMPTY otherwise."""
        if isinstance(base, ast.Name):
            narrowed = narrowing.isinstance_narrowed(self.facts, base)
            if narrowed is not None:
                value, test = narrowed
                # Only while the name still holds what was tested (not rebound in the body).
                same = self.model.reaching(base.id, test) == self.model.reaching(base.id, at)
                return value if same else EMPTY
            declared = self._declared(base, at)
            if declared is not None:
                return declared
        value = self.model.value_of(base)
        if UNKNOWN in value:
            value = self._from_file_callers(base, at)
        if value and all(isinstance(obj, ModuleObject) for obj in value):
            return value
        return EMPTY

    def registers(self, obj: AbstractObject, attr: str, at: ast.stmt) -> bool:
        """``obj`` has ``attr`` registered as a parameter when ``at`` runs."""
        if not isinstance(obj, ModuleObject):
            return False
        layers = [obj.layer] if obj.torch_layer else self._inherited_layers(obj)
        if any(layer_has_parameter(layer, attr) for layer in layers):
            return True
        if any(attr in self.facts.classes[c].parameters for c in self._lineage(obj)):
            return True
        return self._registered_earlier(obj, attr, at)

    # -- what base holds -------------------------------------------------------------

    def _declared(self, name: ast.Name, at: ast.stmt) -> Value | None:
        """An annotated parameter that nothing rebinds before ``at``."""
        definitions = self.model.reaching(name.id, at)
        if len(definitions) != 1:
            return None
        return narrowing.annotated(self.facts, definitions[0])

    def _from_file_callers(self, base: ast.expr, at: ast.stmt) -> Value:
        """``def load_head(layer, ...)`` at module level, only ever called by this file:
        what ``base`` holds under each of those calls' arguments."""
        function = self.facts.enclosing_function(at)
        if function is None or function.name not in self._closed_functions:
            return EMPTY
        evaluator = self.model.evaluator
        found: set[AbstractObject] = set()
        for call in evaluator.heap.calls_of.get(function.name, []):
            frame = evaluator.call_frame(function, call, (), None)
            found |= evaluator.value_of(base, frame)
        return frozenset(found)

    @cached_property
    def _closed_functions(self) -> frozenset[str]:
        """Module-level functions the file only calls (never passes on, never decorates):
        no other code can call them with other arguments."""
        closed: set[str] = set()
        for name, function in self.facts.functions.items():
            uses = self.facts.names_by_id.get(name, [])
            if function.decorator_list or not uses:
                continue
            calls = [self.facts.parents.get(use) for use in uses]
            if all(
                isinstance(c, ast.Call) and c.func is u for c, u in zip(calls, uses, strict=True)
            ):
                closed.add(name)
        return frozenset(closed)

    # -- what a module registers -----------------------------------------------------

    def _lineage(self, obj: ModuleObject) -> list[str]:
        return self.model.evaluator.heap.lineage(obj)

    def class_lineage(self, class_name: str) -> list[str]:
        """A same-file class and its same-file bases."""
        return self.model.evaluator.heap.lineage(ModuleObject(None, class_name))

    def _inherited_layers(self, obj: ModuleObject) -> list[str]:
        """``class Scaled(nn.Linear)`` registers what ``nn.Linear`` registers."""
        return [
            base.rsplit(".", 1)[-1]
            for class_name in self._lineage(obj)
            for base in self.facts.classes[class_name].base_names
            if torchnames.is_module_class_qualname(base)
        ]

    def _registered_earlier(self, obj: ModuleObject, attr: str, at: ast.stmt) -> bool:
        """``model.extra = nn.Parameter(...)`` / ``model.register_parameter("extra", p)``
        on this object, in ``at``'s scope and before it."""
        scope = self.facts.enclosing_scope(at)
        for target, statement in self.model.evaluator.heap.stores.get(attr, []):
            value = getattr(statement, "value", None)
            if (
                isinstance(value, ast.Call)
                and self.facts.is_parameter_call(value)
                and self._earlier(statement, at, scope)
                and obj in self.model.value_of(target.value)
            ):
                return True
        return any(
            self._earlier(statement, at, scope) and obj in self.model.value_of(receiver)
            for receiver, name, statement in self._register_calls
            if name == attr
        )

    def _earlier(self, statement: ast.stmt, at: ast.stmt, scope: ast.AST) -> bool:
        return statement.lineno < at.lineno and self.facts.enclosing_scope(statement) is scope

    @cached_property
    def _register_calls(self) -> list[tuple[ast.expr, str, ast.stmt]]:
        """``(receiver, name, statement)`` of ``<receiver>.register_parameter("name", p)``
        with ``p`` not ``None``."""
        found: list[tuple[ast.expr, str, ast.stmt]] = []
        if not self.facts.mentions("register_parameter"):
            return found
        for call in self.facts.nodes_of(ast.Call):
            assert isinstance(call, ast.Call)
            if flow.method_name(call) != "register_parameter" or len(call.args) < 2:
                continue
            name, value = call.args[0], call.args[1]
            if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                continue
            if isinstance(value, ast.Constant) and value.value is None:
                continue
            statement = self.facts.enclosing_statement(call)
            if statement is not None:
                found.append((call.func.value, name.value, statement))  # type: ignore[attr-defined]
        return found


def _layer_call(obj: AbstractObject, attr: str) -> object:
    """The constructor call of a ``torch.nn`` layer whose parameter ``attr`` is (its flags
    say whether the layer made it)."""
    if isinstance(obj, ModuleObject) and obj.torch_layer and layer_has_parameter(obj.layer, attr):
        return obj.site
    return None


def _flag(call: ast.Call, attr: str) -> bool | None:
    """``False`` for ``bias=False`` (``attr`` stays None), ``True`` for another value
    of a flag that decides ``attr``, None when no flag decides it."""
    for keyword in call.keywords:
        if attr in torchnames.OPTIONAL_PARAMETER_FLAGS.get(keyword.arg or "", ()):
            value = keyword.value
            return not (isinstance(value, ast.Constant) and value.value is False)
    return None


def _class_of(obj: AbstractObject, classes: dict) -> str | None:
    if isinstance(obj, ModuleObject) and obj.torch_layer:
        return obj.layer
    name = getattr(obj, "class_name", None)
    return name if name in classes else None
