"""Constants and configuration: which literal values (and references to library callables)
an expression may hold, as the file shows them.

Followed: locals (reaching definitions), parameters (what the file's own calls pass, or the
default when a call omits it; a function also used as a value may get anything), dict
literals and ``dict(...)`` (lookups by literal key, ``.get``, ``**`` merges, stores
``cfg["bias"] = ...``), fields of same-file instances (dataclass constructor arguments and
defaults, ``self.x = ...`` stores, class-body values), ``functools.partial``, ``**kwargs``
(the keywords a call passes beyond the named parameters) and same-file functions' return
values. Every context is merged (flow-insensitive across calls): a value holding
``Literal(False)`` and ``Literal(True)`` is "possibly False"; one holding only
``Literal(False)`` is "known False"; ``UNKNOWN`` means "anything else too".
"""

from __future__ import annotations

import ast
import weakref
from collections.abc import Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from gradguard.analysis import flow
from gradguard.semantic import control
from gradguard.semantic.bindings import Definition
from gradguard.semantic.constant_items import (
    NOTHING,
    UNKNOWN_CONSTANT,
    ClassReference,
    Constant,
    Function,
    Item,
    Keywords,
    Literal,
    Mapping,
    Partial,
    Reference,
    describe,
    false_literals,
    only_false,
)
from gradguard.semantic.constant_mappings import MappingLookups
from gradguard.semantic.objects import AbstractObject, InstanceObject, ModuleObject

if TYPE_CHECKING:
    from gradguard.semantic.values import Evaluator


__all__ = [
    "NOTHING",
    "UNKNOWN_CONSTANT",
    "ClassReference",
    "Constant",
    "Constants",
    "Item",
    "Keywords",
    "Literal",
    "Mapping",
    "Partial",
    "Reference",
    "describe",
    "false_literals",
    "only_false",
]


class Constants(MappingLookups):
    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = weakref.proxy(evaluator)  # the evaluator holds us
        self.facts = evaluator.facts
        self._memo: dict[ast.AST, Constant] = {}
        self._nesting = 0
        self._looking: set[tuple[Item, object]] = set()
        # The definitions, stores and calls read so far (what an answer depends on), and
        # the whole-file scans made (regular expressions every place read matches).
        self.read: set[ast.AST] = set()
        self.scans: set[str] = set()

    @property
    def _log(self) -> Any:
        """The incremental analysis's read log (``Evaluator.reads``, a ``ReadLog``) while
        it records, else None: every read below is passed on to it too."""
        return getattr(self.evaluator, "reads", None)

    def note_read(self, node: ast.AST) -> None:
        self.read.add(node)
        if self._log is not None:
            self._log.read(node)

    def note_scan(self, pattern: str) -> None:
        self.scans.add(pattern)
        if self._log is not None:
            self._log.scan(pattern)

    def value_of(self, expr: ast.AST) -> Constant:
        from gradguard.semantic.values import MAX_NESTING

        log = self._log
        key = ("constant", expr)  # a reused answer brings the reads it was computed from
        if expr in self._memo:
            if log is not None:
                log.reuse(expr, key)
            return self._memo[expr]
        if self._nesting >= MAX_NESTING:
            return UNKNOWN_CONSTANT
        self._memo[expr] = UNKNOWN_CONSTANT  # a cycle through this expression
        self._nesting += 1
        if log is not None:
            log.enter(expr)
        try:
            self._memo[expr] = self._evaluate(expr)
        finally:
            self._nesting -= 1
            if log is not None:
                log.leave(expr, key)
        return self._memo[expr]

    def _evaluate(self, expr: ast.AST) -> Constant:
        if isinstance(expr, ast.Constant):
            return frozenset({Literal(expr.value, expr)})
        if isinstance(expr, ast.Name):
            return self._name(expr)
        if isinstance(expr, ast.Attribute):
            qualified = self.facts.qualify(expr)
            if qualified:
                return frozenset({Reference(qualified)})
            return self._union(self._field(i, expr.attr) for i in self.value_of(expr.value))
        if isinstance(expr, ast.Subscript):
            mapping = self.value_of(expr.value)
            found = [self.lookup(mapping, key)[0] for key in self._keys(expr.slice)]
            return self._union(found)  # an absent key is a KeyError, not a value
        if isinstance(expr, ast.Call):
            return self._call(expr)
        if isinstance(expr, ast.Dict):
            return frozenset({Mapping(expr)})
        if isinstance(expr, ast.IfExp):
            return self.value_of(expr.body) | self.value_of(expr.orelse)
        if isinstance(expr, ast.BoolOp):  # `x or default`: either operand
            return self._union(self.value_of(v) for v in expr.values)
        if isinstance(expr, ast.NamedExpr):
            return self.value_of(expr.value)
        return UNKNOWN_CONSTANT

    def _keys(self, expr: ast.expr) -> list[object]:
        """The literal keys ``expr`` may hold (``[None]``: any key)."""
        value = self.value_of(expr)
        if value and all(isinstance(i, Literal) for i in value):
            return [i.value for i in value]  # type: ignore[union-attr]
        return [None]

    @staticmethod
    def _union(values: Iterable[Constant]) -> Constant:
        return frozenset().union(*values) or UNKNOWN_CONSTANT

    # -- names and parameters ------------------------------------------------------------

    def _name(self, name: ast.Name) -> Constant:
        evaluator = self.evaluator
        statement = self.facts.enclosing_statement(name)
        scope = self.facts.enclosing_scope(name)
        bindings = evaluator.bindings(scope)
        if statement is not None and (bindings.is_local(name.id) or isinstance(scope, ast.Module)):
            definitions = bindings.reaching(name.id, statement)
        else:  # a global read in a function
            definitions = evaluator.bindings(self.facts.tree).definitions.get(name.id, [])
        if not definitions:
            qualified = self.facts.qualify(name)
            return frozenset({Reference(qualified)}) if qualified else UNKNOWN_CONSTANT
        return self._union(self.definition(d) for d in definitions)

    def definition(self, definition: Definition) -> Constant:
        self.note_read(definition.statement or definition.function)  # type: ignore[arg-type]
        kind = definition.kind
        if kind == "parameter":
            return self._parameter(definition)
        if kind == "import":
            qualified = self.facts.qualify(ast.Name(definition.name))
            return frozenset({Reference(qualified)}) if qualified else UNKNOWN_CONSTANT
        if kind == "def" and isinstance(definition.statement, ast.ClassDef):
            return frozenset({ClassReference(definition.statement)})
        if kind in ("assign", "walrus") and definition.value is not None:
            return self.value_of(definition.value)
        return UNKNOWN_CONSTANT

    def _parameter(self, definition: Definition) -> Constant:
        function = definition.function
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return UNKNOWN_CONSTANT
        arguments = function.args
        if arguments.vararg is not None and definition.name == arguments.vararg.arg:
            return UNKNOWN_CONSTANT
        if control.first_parameter(function) == definition.name and _is_method(
            self.facts, function
        ):
            # `self`: the instance (its callers are not read: what they pass is the receiver)
            return self.evaluator.definition_value(definition)
        callers = self.callers(function)
        if arguments.kwarg is not None and definition.name == arguments.kwarg.arg:
            return frozenset(Keywords(c, function) for c, _ in callers) or UNKNOWN_CONSTANT
        default = definition.value
        values = [self._argument(function, call, implicit, definition.name, default)
                  for call, implicit in callers]  # fmt: skip
        if not callers:
            values = [self.value_of(default) if default is not None else UNKNOWN_CONSTANT]
        if self._used_as_value(function):
            values.append(UNKNOWN_CONSTANT)  # `model.apply(init)`: called with anything
        return self._union(values)

    def _argument(
        self,
        function: Function,
        call: ast.Call,
        implicit: bool,
        name: str,
        default: ast.expr | None,
    ) -> Constant:
        """What ``call`` passes as parameter ``name`` (``implicit``: the first parameter,
        ``self``, is bound by the call itself)."""
        self.note_read(call)
        for keyword in call.keywords:
            if keyword.arg == name:
                return self.value_of(keyword.value)
        positional = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
        positional = positional[1:] if implicit else positional
        if name in positional:
            index = positional.index(name)
            starred = [i for i, a in enumerate(call.args) if isinstance(a, ast.Starred)]
            if index >= min(starred, default=len(call.args)):
                return UNKNOWN_CONSTANT if starred else self._omitted(call, name, default)
            return self.value_of(call.args[index])
        return self._omitted(call, name, default)

    def _omitted(self, call: ast.Call, name: str, default: ast.expr | None) -> Constant:
        """A parameter the call does not name: from its ``**mapping``, or the default."""
        found: Constant = NOTHING
        absent = True
        for keyword in call.keywords:
            if keyword.arg is None:
                more, may_be_absent = self.lookup(self.value_of(keyword.value), name)
                found, absent = found | more, absent and may_be_absent
        if absent:
            found |= self.value_of(default) if default is not None else UNKNOWN_CONSTANT
        return found

    def callers(self, function: Function) -> list[tuple[ast.Call, bool]]:
        """The file's calls of ``function``, each with whether the call binds its first
        parameter itself (a method call, a class construction)."""
        facts = self.facts
        name = function.name
        if facts.functions.get(name) is function:
            return [(c, False) for c in self._calls.get(name, [])]
        owner = facts.parents.get(function)
        if not isinstance(owner, ast.ClassDef) or facts.classes.get(owner.name) is None:
            return []
        if name == "__init__":
            made = [(c, True) for c in self._calls.get(owner.name, [])]
            return made + [(c, True) for c in self._super_inits(owner)]
        implicit = not _is_static(function)
        return [
            (c, implicit)
            for c in self._method_calls.get(name, [])
            if self._receiver_is(c, owner.name)
        ]

    def _super_inits(self, base: ast.ClassDef) -> list[ast.Call]:
        """``super().__init__(...)`` in the same-file subclasses of ``base``."""
        found = []
        for call in self._method_calls.get("__init__", []):
            receiver = call.func.value  # type: ignore[attr-defined]
            if not (isinstance(receiver, ast.Call) and flow.dotted_name(receiver.func) == "super"):
                continue
            owner = next(
                (p for p in self.facts.ancestors(call) if isinstance(p, ast.ClassDef)), None
            )
            if owner is not None and base.name in _base_names(owner):
                found.append(call)
        return found

    def _receiver_is(self, call: ast.Call, class_name: str) -> bool:
        """The call's receiver holds an instance of ``class_name`` (or a subclass)."""
        receiver = self.evaluator.value_of(call.func.value)  # type: ignore[attr-defined]
        heap = self.evaluator.heap
        return any(class_name in heap.lineage(obj) for obj in receiver)

    def _used_as_value(self, function: Function) -> bool:
        """The function is referenced other than by calling it (passed, stored)."""
        parents = self.facts.parents
        if self.facts.functions.get(function.name) is function:
            names: list[ast.AST] = list(self.facts.names_by_id.get(function.name, []))
        else:
            names = list(self._attributes.get(function.name, []))
        return any(
            not (isinstance(parents.get(n), ast.Call) and parents[n].func is n)  # type: ignore[attr-defined]
            for n in names
            if isinstance(getattr(n, "ctx", None), ast.Load)
        )

    @cached_property
    def _calls(self) -> dict[str, list[ast.Call]]:
        """Calls by the callee's name (``f(...)``)."""
        return self._call_index[0]

    @cached_property
    def _method_calls(self) -> dict[str, list[ast.Call]]:
        """Calls by the callee's attribute (``x.f(...)``)."""
        return self._call_index[1]

    @cached_property
    def _call_index(self) -> tuple[dict[str, list[ast.Call]], dict[str, list[ast.Call]]]:
        by_name: dict[str, list[ast.Call]] = {}
        by_attribute: dict[str, list[ast.Call]] = {}
        for node in self.facts.nodes_of(ast.Call):
            func = node.func  # type: ignore[attr-defined]
            if isinstance(func, ast.Name):
                by_name.setdefault(func.id, []).append(node)  # type: ignore[arg-type]
            elif isinstance(func, ast.Attribute):
                by_attribute.setdefault(func.attr, []).append(node)  # type: ignore[arg-type]
        return by_name, by_attribute

    @cached_property
    def _attributes(self) -> dict[str, list[ast.Attribute]]:
        index: dict[str, list[ast.Attribute]] = {}
        for node in self.facts.nodes_of(ast.Attribute):
            index.setdefault(node.attr, []).append(node)  # type: ignore[attr-defined,arg-type]
        return index

    # -- calls --------------------------------------------------------------------------

    def _call(self, call: ast.Call) -> Constant:
        facts = self.facts
        func = call.func
        qualified = facts.qualify(func) or ""
        if qualified == "functools.partial" and call.args:
            keywords = tuple((k.arg, self.value_of(k.value)) for k in call.keywords if k.arg)
            if any(k.arg is None for k in call.keywords):
                return UNKNOWN_CONSTANT
            positional = len(call.args) > 1
            return frozenset({Partial(call, self.value_of(call.args[0]), keywords, positional)})
        if isinstance(func, ast.Name) and func.id == "dict" and not qualified:
            return frozenset({Mapping(call)})
        if isinstance(func, ast.Name) and func.id in facts.classes:
            return self.evaluator.value_of(call)  # an instance: its fields are read
        if isinstance(func, ast.Attribute) and func.attr == "get" and call.args:
            mapping = self.value_of(func.value)
            found: Constant = NOTHING
            absent = False
            for key in self._keys(call.args[0]):
                more, may_be_absent = self.lookup(mapping, key)
                found, absent = found | more, absent or may_be_absent
            if absent:
                otherwise = call.args[1] if len(call.args) > 1 else None
                found |= self.value_of(otherwise) if otherwise else {Literal(None, call)}
            return found or UNKNOWN_CONSTANT
        if isinstance(func, ast.Attribute) and func.attr == "copy" and not call.args:
            mappings = self.value_of(func.value)
            if all(isinstance(i, Mapping) for i in mappings):
                return mappings
        if isinstance(func, ast.Name) and facts.functions.get(func.id) is not None:
            function = facts.functions[func.id]
            returns = [n.value for n in flow.walk_local(function) if isinstance(n, ast.Return)]
            self.note_read(function)
            return self._union(self.value_of(r) for r in returns if r is not None)
        return UNKNOWN_CONSTANT

    # -- fields -------------------------------------------------------------------------

    def _field(self, item: Item, attr: str) -> Constant:
        if isinstance(item, ClassReference):
            return self._class_value(item.node, attr) or UNKNOWN_CONSTANT
        if not isinstance(item, (InstanceObject, ModuleObject)) or item.class_name not in (
            self.facts.classes
        ):
            return UNKNOWN_CONSTANT
        found: set[Item] = set(self._constructor_field(item, attr))
        heap = self.evaluator.heap
        lineage = heap.lineage(item)
        for target, statement in heap.stores.get(attr, []):
            if self._holds(target.value, item, lineage):
                self.note_read(statement)
                found |= self.value_of(statement.value)  # type: ignore[attr-defined]
        if not found:
            for class_name in lineage:
                found |= self._class_value(self.facts.classes[class_name].node, attr)
        return frozenset(found) or UNKNOWN_CONSTANT

    def _holds(self, expr: ast.expr, obj: AbstractObject, lineage: list[str]) -> bool:
        """``expr`` (a store's receiver) may hold ``obj``: ``self`` in a method of its
        class, or a name holding it."""
        method = self.facts.enclosing_function(expr)
        if isinstance(expr, ast.Name):
            owner = control.self_of_method(self.facts, method, expr.id)
            if owner is not None:
                return owner.name in lineage
        return obj in self.evaluator.value_of(expr)

    def _constructor_field(self, obj: InstanceObject | ModuleObject, attr: str) -> Constant:
        """A dataclass field: the constructor's argument for it, or its default."""
        info = self.facts.classes[obj.class_name]
        if not _is_dataclass(self.facts, info.node) or not isinstance(obj.site, ast.Call):
            return NOTHING
        fields = _dataclass_fields(info.node)
        if attr not in fields:
            return NOTHING
        call = obj.site
        self.note_read(call)
        for keyword in call.keywords:
            if keyword.arg == attr:
                return self.value_of(keyword.value)
        index = list(fields).index(attr)
        if any(isinstance(a, ast.Starred) for a in call.args) or any(
            k.arg is None for k in call.keywords
        ):
            return UNKNOWN_CONSTANT
        if index < len(call.args):
            return self.value_of(call.args[index])
        return self._field_default(fields[attr])

    def _field_default(self, default: ast.expr | None) -> Constant:
        if isinstance(default, ast.Call) and flow.dotted_name(default.func) in (
            "field",
            "dataclasses.field",
        ):
            value = next((k.value for k in default.keywords if k.arg == "default"), None)
            return self.value_of(value) if value is not None else UNKNOWN_CONSTANT
        return self.value_of(default) if default is not None else UNKNOWN_CONSTANT

    def _class_value(self, node: ast.ClassDef, attr: str) -> Constant:
        """What the class body binds ``attr`` to (``bias = False``, ``bias: bool = False``)."""
        for statement in node.body:
            targets = flow.assigned_targets(statement)
            value = getattr(statement, "value", None)
            if value is not None and any(isinstance(t, ast.Name) and t.id == attr for t in targets):
                self.note_read(statement)
                return self._field_default(value)
        return NOTHING


def _is_method(facts, function: Function) -> bool:  # type: ignore[no-untyped-def]
    return isinstance(facts.parents.get(function), ast.ClassDef) and not _is_static(function)


def _is_static(function: Function) -> bool:
    return any(flow.dotted_name(d) == "staticmethod" for d in function.decorator_list)


def _base_names(node: ast.ClassDef) -> list[str]:
    return [name for base in node.bases if (name := flow.dotted_name(base))]


def _is_dataclass(facts, node: ast.ClassDef) -> bool:  # type: ignore[no-untyped-def]
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if facts.qualify(target) == "dataclasses.dataclass":
            return True
    return False


def _dataclass_fields(node: ast.ClassDef) -> dict[str, ast.expr | None]:
    """The fields in order, with their default expressions."""
    fields: dict[str, ast.expr | None] = {}
    for statement in node.body:
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            annotation = flow.dotted_name(statement.annotation) or ""
            if "ClassVar" not in annotation:
                fields[statement.target.id] = statement.value
    return fields
