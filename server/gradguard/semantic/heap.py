"""The field heap: what ``obj.attr`` holds, for the objects the evaluator knows.

A same-file class instance's fields are the values its methods store in ``self.<attr>``
(``__init__`` with the arguments of the call that made the instance) and the values any
code stores in ``<expr>.<attr>`` where ``<expr>`` holds the instance: ``model.fc = head``
stores ``head``'s object in ``model``'s field ``fc``. The heap is flow-insensitive:
a field holds every value ever stored in it. Layers' parameters (``fc.weight``),
``nn.Sequential``/``nn.ModuleList`` elements (``model[0]``) are followed too.
"""

from __future__ import annotations

import ast
import re
import weakref
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

from gradguard.analysis import flow, torchnames
from gradguard.semantic import control
from gradguard.semantic.catalogue.modules import MODULE_ATTRIBUTES
from gradguard.semantic.objects import (
    EMPTY,
    UNKNOWN_VALUE,
    AbstractObject,
    InstanceObject,
    ModuleObject,
    ParameterIterable,
    ParameterObject,
    Value,
)

if TYPE_CHECKING:
    from gradguard.semantic.values import Evaluator, Frame

_CONTAINERS = frozenset({"Sequential", "ModuleList"})
_MODULE_BASES = frozenset({"torch.nn.Module", "torch.nn.modules.module.Module"})
Function = ast.FunctionDef | ast.AsyncFunctionDef


@lru_cache(maxsize=4096)
def _field_pattern(attr: str) -> str:
    """Every read or store of ``.attr`` (made once per name: each field read records it)."""
    return rf"\.\s*{re.escape(attr)}\b"


class Heap:
    def __init__(self, evaluator: Evaluator) -> None:
        # A proxy, not a reference: the evaluator holds the heap, and a cycle would keep
        # every tree alive until a full garbage collection.
        self.evaluator = weakref.proxy(evaluator)
        self.facts = evaluator.facts
        self._loading: set[tuple[AbstractObject, str]] = set()

    @cached_property
    def stores(self) -> dict[str, list[tuple[ast.Attribute, ast.stmt]]]:
        """``{attr: [(target, statement), ...]}`` for every ``<expr>.<attr> = value``."""
        index: dict[str, list[tuple[ast.Attribute, ast.stmt]]] = {}
        for node in self.facts.nodes_of_types(ast.Assign, ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]  # type: ignore[attr-defined]
            for target in targets:
                if node.value is None:  # type: ignore[attr-defined]
                    continue
                if isinstance(target, ast.Attribute):
                    index.setdefault(target.attr, []).append((target, node))  # type: ignore[arg-type]
                for part in _unpacked_attributes(target):  # ``self.a, self.b = f()``
                    index.setdefault(part.attr, []).append((part, node))  # type: ignore[arg-type]
        return index

    def load(self, value: Value, attr: str, node: ast.AST | None = None) -> Value:
        if not value:
            return UNKNOWN_VALUE
        reads = self.evaluator.reads
        if reads is not None:  # a store added anywhere changes what it holds
            reads.scan(_field_pattern(attr))
        found: set[AbstractObject] = set()
        for obj in value:
            found |= self.field(obj, attr)
        return frozenset(found)  # empty: no object has it (reading it raises)

    def field(self, obj: AbstractObject, attr: str, *, built: bool = False) -> Value:
        """What ``obj.attr`` may hold; with ``built``, only what the class's ``__init__``
        stores in it (the layers it is built with, not what code replaces later)."""
        if isinstance(obj, ModuleObject) and obj.torch_layer:
            stored = self._stored(obj, attr, built)
            if stored:
                return stored
            if torchnames.is_layer_parameter_name(attr):
                return frozenset({ParameterObject(obj.site, obj, attr)})
            return UNKNOWN_VALUE
        if not isinstance(obj, (ModuleObject, InstanceObject)) or (obj, attr) in self._loading:
            return UNKNOWN_VALUE
        self._loading.add((obj, attr))
        try:
            stored = self._stored(obj, attr, built)
            if not stored and not built and self._absent(obj, attr):
                return EMPTY  # reading it raises AttributeError: it holds nothing
            return stored or UNKNOWN_VALUE
        finally:
            self._loading.discard((obj, attr))

    def _absent(self, obj: AbstractObject, attr: str) -> bool:
        """A module of a same-file class (every base in this file, down to
        ``nn.Module``) that no code gives ``attr``, that no class body or method
        defines, and that ``nn.Module`` does not have (``model.module`` of a model not
        wrapped in ``DataParallel``)."""
        if not isinstance(obj, ModuleObject) or obj.torch_layer or attr.startswith("_"):
            return False
        if attr in MODULE_ATTRIBUTES or attr in self.stores:
            return False
        class_name = obj.class_name
        seen: set[str] = set()
        while class_name in self.facts.classes and class_name not in seen:
            seen.add(class_name)
            info = self.facts.classes[class_name]
            self.evaluator.read(info.node)
            if attr in info.methods or attr in _class_body_names(info.node):
                return False
            local = [b for b in info.base_names if b in self.facts.classes]
            others = [b for b in info.base_names if b not in self.facts.classes]
            if any(b not in _MODULE_BASES for b in others):
                return False  # a base class we cannot read may define it
            class_name = local[0] if local else ""
        return bool(seen)

    def _stored(self, obj: AbstractObject, attr: str, built: bool = False) -> Value:
        evaluate = self.evaluator.value_of
        found: set[AbstractObject] = set()
        for target, statement in self.stores.get(attr, []):
            if built and not self._in_init(obj, statement):
                continue
            if self._foreign_self(obj, target, statement):
                continue
            for frame in self._frames_for(obj, statement):
                if obj in evaluate(target.value, frame):
                    unpacked = target not in getattr(statement, "targets", [target])
                    stored = UNKNOWN_VALUE if unpacked else evaluate(statement.value, frame)  # type: ignore[attr-defined]
                    found |= stored
        return frozenset(found)

    def _foreign_self(self, obj: AbstractObject, target: ast.Attribute, stmt: ast.stmt) -> bool:
        """``self.attr = ...`` in a method of another same-file class than ``obj``'s (or
        its bases): ``self`` there is never ``obj``, whatever the method does (so reading
        a trainer's ``self.model`` does not read every other class's methods)."""
        if not isinstance(target.value, ast.Name):
            return False
        method = self.facts.enclosing_function(stmt)
        owner = control.self_of_method(self.facts, method, target.value.id)
        info = self.facts.classes.get(owner.name) if owner is not None else None
        if owner is None or info is None or info.node is not owner:
            return False
        return owner.name not in self.lineage(obj)

    def _frames_for(self, obj: AbstractObject, statement: ast.stmt) -> list[Frame]:
        """The frames a store runs in: as a method of ``obj``'s class; as a module-level
        function, once per call of it in the file (``speedup(model)`` replaces
        ``model.fc``: the function's effect on its argument)."""
        frame = self._frame_for(obj, statement)
        function = self.facts.enclosing_function(statement)
        if frame or function is None or self.facts.functions.get(function.name) is not function:
            return [frame]
        calls = self.calls_of.get(function.name, [])
        return [()] + [self.evaluator.call_frame(function, c, (), None) for c in calls]

    @cached_property
    def calls_of(self) -> dict[str, list[ast.Call]]:
        """``{function name: [call, ...]}`` for calls of the file's module-level functions."""
        index: dict[str, list[ast.Call]] = {}
        for node in self.facts.nodes_of(ast.Call):
            func = node.func  # type: ignore[attr-defined]
            if isinstance(func, ast.Name) and func.id in self.facts.functions:
                index.setdefault(func.id, []).append(node)  # type: ignore[arg-type]
        return index

    def _in_init(self, obj: AbstractObject, statement: ast.stmt) -> bool:
        """The store is in ``__init__`` of ``obj``'s class (what it is built with)."""
        method = self.facts.enclosing_function(statement)
        if method is None or method.name != "__init__":
            return False
        owner = self.facts.parents.get(method)
        return isinstance(owner, ast.ClassDef) and owner.name in self.lineage(obj)

    def lineage(self, obj: AbstractObject) -> list[str]:
        """``obj``'s class and its same-file bases."""
        start = getattr(obj, "class_name", "")
        if start in self._lineages:  # asked for every store of every field read
            return self._lineages[start]
        names: list[str] = []
        class_name = start
        while class_name in self.facts.classes and class_name not in names:
            names.append(class_name)
            bases = [
                b for b in self.facts.classes[class_name].base_names if b in self.facts.classes
            ]
            class_name = bases[0] if bases else ""
        self._lineages[start] = names
        return names

    @cached_property
    def _lineages(self) -> dict[str, list[str]]:
        return {}

    def _frame_for(self, obj: AbstractObject, statement: ast.stmt) -> Frame:
        """In a method of ``obj``'s class, ``self`` is ``obj`` (and ``__init__``'s
        parameters are the arguments of the call that made it)."""
        method = self.facts.enclosing_function(statement)
        class_name = getattr(obj, "class_name", "")
        if method is None or self.method(obj, method.name) is not method or not class_name:
            return ()
        receiver = frozenset({obj})
        site = obj.site
        if method.name == "__init__" and isinstance(site, ast.Call):
            return self.evaluator.call_frame(method, site, (), receiver)
        first = control.first_parameter(method)
        return ((first, receiver),) if first else ()

    def method(self, obj: AbstractObject, name: str) -> Function | None:
        """The same-file method ``name`` of ``obj``'s class or its same-file bases."""
        for class_name in self.lineage(obj):
            self.evaluator.read(self.facts.classes[class_name].node)
            methods = self.facts.classes[class_name].methods
            if name in methods:
                return methods[name]
        return None

    def element(self, value: Value, index: ast.expr) -> Value:
        """``model[0]`` on an ``nn.Sequential(...)`` / ``nn.ModuleList([...])``."""
        if not (isinstance(index, ast.Constant) and isinstance(index.value, int)):
            return UNKNOWN_VALUE
        found: set[AbstractObject] = set()
        for obj in value:
            parts = self.container_parts(obj)
            if parts is None or not -len(parts) <= index.value < len(parts):
                return UNKNOWN_VALUE
            found |= self.evaluator.value_of(parts[index.value])
        return frozenset(found)

    def elements(self, value: Value) -> Value:
        """What ``for x in <value>`` binds ``x`` to."""
        found: set[AbstractObject] = set()
        for obj in value:
            if isinstance(obj, ParameterIterable) and not obj.named:
                found |= {ParameterObject(obj.site, owner) for owner in obj.owners}
                continue
            parts = self.container_parts(obj) or _comprehended_parts(obj)
            if parts is None:
                return UNKNOWN_VALUE
            for part in parts:
                found |= self.evaluator.value_of(part)
        return frozenset(found) or UNKNOWN_VALUE

    def container_parts(self, obj: AbstractObject) -> list[ast.expr] | None:
        """The element expressions of ``nn.Sequential(a, b)`` / ``nn.ModuleList([a, b])``."""
        if not (isinstance(obj, ModuleObject) and obj.torch_layer and obj.layer in _CONTAINERS):
            return None
        call = obj.site
        if not isinstance(call, ast.Call) or call.keywords:
            return None
        arguments = list(call.args)
        if obj.layer == "ModuleList":
            if len(arguments) != 1 or not isinstance(arguments[0], (ast.List, ast.Tuple)):
                return None
            arguments = list(arguments[0].elts)
        if any(isinstance(a, ast.Starred) for a in arguments):
            return None
        return arguments


def _class_body_names(node: ast.ClassDef) -> set[str]:
    """Names a class body binds (``dim = 4``, ``name: str = ...``)."""
    names: set[str] = set()
    for stmt in node.body:
        for target in flow.assigned_targets(stmt):
            if isinstance(target, ast.Name):
                names.add(target.id)
    return names


def _comprehended_parts(obj: AbstractObject) -> list[ast.expr] | None:
    """``nn.ModuleList([MixedOp(c) for _ in range(n)])``: every element is made by the
    comprehension's element expression (how many is unknown, what they are is not)."""
    if not (isinstance(obj, ModuleObject) and obj.torch_layer and obj.layer in _CONTAINERS):
        return None
    call = obj.site
    if not isinstance(call, ast.Call) or call.keywords or len(call.args) != 1:
        return None
    argument = call.args[0]
    if obj.layer != "ModuleList" or not isinstance(argument, (ast.ListComp, ast.GeneratorExp)):
        return None
    return [argument.elt]


def _unpacked_attributes(target: ast.expr) -> list[ast.Attribute]:
    """The attribute targets inside an unpacking target (what they get is unknown)."""
    if not isinstance(target, (ast.Tuple, ast.List)):
        return []
    found: list[ast.Attribute] = []
    for element in target.elts:
        element = element.value if isinstance(element, ast.Starred) else element
        if isinstance(element, ast.Attribute):
            found.append(element)
        found += _unpacked_attributes(element)
    return found
