"""Layers and their flags: which ``torch.nn`` layer a call builds, and whether a flag can
leave its ``weight`` / ``bias`` as ``None``.

A call builds a layer when its callee names the class (``nn.Conv2d(...)``) or holds it:
a variable, a config dict entry, a registry lookup or a dataclass field holding the class
or a ``functools.partial`` of it (``norm_layer = partial(nn.BatchNorm2d, affine=False)``).
A flag's value is what :mod:`constants` says the argument holds: a keyword, a positional
argument, a ``**kwargs`` mapping, the partial's keyword, or the layer's default.
"""

from __future__ import annotations

import ast
import weakref
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from gradguard.analysis import flow, torchnames
from gradguard.semantic.catalogue.optional_parameters import Flag, flags_leaving_none
from gradguard.semantic.constants import (
    UNKNOWN_CONSTANT,
    Constant,
    Constants,
    Literal,
    Partial,
    Reference,
    false_literals,
    only_false,
)
from gradguard.semantic.objects import AbstractObject, ModuleObject

if TYPE_CHECKING:
    from gradguard.semantic.values import Evaluator

# Every construction that can leave a parameter None writes one of these (the False may
# be far from the construction, but it is written somewhere in the file).
SCAN_PATTERN = r"\bFalse\b|InstanceNorm"
# A class a call builds, with the partial that carries some of its keywords.
Built = tuple[str, Partial | None]


@dataclass(frozen=True)
class Absence:
    """Layer ``call`` (of class ``class_name``) gets ``flag`` False, so ``parameter`` is None."""

    call: ast.Call
    class_name: str  # "Conv2d"
    flag: str  # "bias"
    parameter: str
    source: Literal  # the False (the call itself for the layer's default)
    known: bool  # every value the file gives the flag is False

    @property
    def written_at_build(self) -> bool:
        """The False is written in the construction itself (or is the layer's default)."""
        site = self.source.site
        return self.source.default or any(site is node for node in ast.walk(self.call))


class Layers:
    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = weakref.proxy(evaluator)  # the evaluator holds us
        self.facts = evaluator.facts
        self.constants = Constants(evaluator)
        self._absences: dict[str, list[Absence]] = {}
        self._tested: dict[ast.AST, frozenset[str]] = {}

    def built_by(self, call: ast.Call) -> list[Built]:
        """The ``torch.nn`` layer classes (qualified) ``call`` builds; empty when unknown."""
        qualified = self.facts.qualify(call.func) or ""
        if torchnames.is_module_class_qualname(qualified):
            return [(qualified, None)]
        if qualified or not self._may_hold_a_class(call.func):  # `torch.relu(x)`, `print(x)`
            return []
        built: list[Built] = []
        for item in self.constants.value_of(call.func):
            options = item.function if isinstance(item, Partial) else frozenset({item})
            for option in options:
                if not (
                    isinstance(option, Reference)
                    and torchnames.is_module_class_qualname(option.qualified)
                ):
                    return []  # something else may be called here
                built.append((option.qualified, item if isinstance(item, Partial) else None))
        return built

    def absence(self, obj: AbstractObject, parameter: str) -> Absence | None:
        """Why layer ``obj``'s ``parameter`` can be None, or None."""
        if not (isinstance(obj, ModuleObject) and obj.torch_layer):
            return None
        call = obj.site
        if not isinstance(call, ast.Call):
            return None
        for qualified, partial in self.built_by(call):
            if qualified == obj.class_name:
                return self._absence(call, qualified, partial, parameter)
        return None

    def absence_at(self, obj: AbstractObject, parameter: str, use: ast.AST) -> Absence | None:
        """Why ``obj``'s ``parameter`` can be None where ``use`` runs: a False the file
        always gives the flag, or one of several values when ``use`` runs for every layer
        that construction builds (the same function, or a method of the same class); not
        in a function testing the flag (``if bias:``) unless the False is written at the
        construction; never when some code stores the parameter (``m.bias = ...``)."""
        absence = self.absence(obj, parameter)
        if absence is None or self.reassigned(obj, parameter):
            return None
        if not absence.known and not self._runs_for_every_build(absence.call, use):
            return None
        if not absence.written_at_build and self._flag_tested(absence, use):
            return None
        return absence

    def _runs_for_every_build(self, build: ast.Call, use: ast.AST) -> bool:
        facts = self.facts
        if facts.enclosing_scope(build) is facts.enclosing_scope(use):
            return True
        owner = self._enclosing_class(build)
        return owner is not None and owner is self._enclosing_class(use)

    def _enclosing_class(self, node: ast.AST) -> ast.ClassDef | None:
        return next((p for p in self.facts.ancestors(node) if isinstance(p, ast.ClassDef)), None)

    def _flag_tested(self, absence: Absence, use: ast.AST) -> bool:
        """The function holding ``use`` tests the flag (``if bias:``, ``if cfg["affine"]``,
        ``if self.use_bias``): the call may run only when it is True."""
        names = {absence.flag}
        for keyword in absence.call.keywords:
            if keyword.arg in (absence.flag, None):
                names |= _identifiers(keyword.value)
        return not names.isdisjoint(self._tested_identifiers(self.facts.enclosing_scope(use)))

    def _tested_identifiers(self, scope: ast.AST) -> frozenset[str]:
        """Every identifier the scope's tests read (``if``, ``while``, conditional
        expressions, ``assert``, ``and``/``or`` operands): one walk per scope, not one per
        absence and use."""
        if scope not in self._tested:
            found: set[str] = set()
            for node in flow.walk_local(scope):
                if isinstance(node, (ast.If, ast.While, ast.IfExp, ast.Assert)):
                    found |= _identifiers(node.test)
                elif isinstance(node, ast.BoolOp):
                    for value in node.values:
                        found |= _identifiers(value)
            self._tested[scope] = frozenset(found)
        return self._tested[scope]

    def _absence(
        self, call: ast.Call, qualified: str, partial: Partial | None, parameter: str
    ) -> Absence | None:
        class_name = qualified.rsplit(".", 1)[-1]
        found: list[Absence] = []
        for flag in flags_leaving_none(class_name, parameter):
            value = self.flag_value(call, flag, partial)
            falses = false_literals(value)
            if falses:
                known = only_false(value)
                found.append(Absence(call, class_name, flag.name, parameter, falses[0], known))
        return max(found, key=lambda a: (a.known, a.written_at_build), default=None)

    def flag_value(self, call: ast.Call, flag: Flag, partial: Partial | None) -> Constant:
        """What ``flag`` holds in the construction ``call``."""
        constants = self.constants
        for keyword in call.keywords:
            if keyword.arg == flag.name:
                return constants.value_of(keyword.value)
        starred = any(isinstance(a, ast.Starred) for a in call.args[: flag.position + 1])
        if starred or (partial is not None and partial.positional):
            return UNKNOWN_CONSTANT
        if flag.position < len(call.args):
            return constants.value_of(call.args[flag.position])
        found: Constant = frozenset()
        for keyword in call.keywords:
            if keyword.arg is None:  # `**norm_kwargs`
                more, absent = constants.lookup(constants.value_of(keyword.value), flag.name)
                found |= more
                if not absent:
                    return found
        if partial is not None:
            given = dict(partial.keywords)
            if flag.name in given:
                return found | given[flag.name]
        return found | {Literal(flag.default, call, default=True)}

    def _may_hold_a_class(self, func: ast.expr) -> bool:
        """The callee may hold a layer class or a partial (a cheap test of the text first:
        ``self.conv1(x)`` calls a layer stored as ``self.conv1 = nn.Conv2d(...)``, and
        ``model(x)`` one bound as ``model = Net()``; neither is a construction)."""
        if isinstance(func, ast.Subscript):
            return True
        if isinstance(func, ast.Name):
            values = self._assigned.get(func.id)
            if values is None:  # a parameter or loop variable may; a builtin may not
                return func.id in self._bound_otherwise
            return any(_may_be_a_class(v) for v in values)
        if isinstance(func, ast.Attribute):
            stored = self.evaluator.heap.stores.get(func.attr, [])
            return func.attr in self._class_body_names or any(
                _may_be_a_class(statement.value)  # type: ignore[attr-defined]
                for _, statement in stored
            )
        return False

    @cached_property
    def _assigned(self) -> dict[str, list[ast.expr]]:
        """What plain names are assigned anywhere (parameters and imports are not here)."""
        index: dict[str, list[ast.expr]] = {}
        for node in self.facts.nodes_of_types(ast.Assign, ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]  # type: ignore[attr-defined]
            value = node.value  # type: ignore[attr-defined]
            for target in targets:
                if isinstance(target, ast.Name) and value is not None:
                    index.setdefault(target.id, []).append(value)
        return index

    @cached_property
    def _bound_otherwise(self) -> set[str]:
        """Names bound other than by a plain assignment: parameters, loop and ``with``
        targets, unpacking."""
        names = {n.id for n in self.facts.nodes_of(ast.Name) if isinstance(n.ctx, ast.Store)}  # type: ignore[attr-defined]
        names |= {a.arg for a in self.facts.nodes_of(ast.arg)}  # type: ignore[attr-defined]
        return names

    @cached_property
    def _class_body_names(self) -> set[str]:
        """Names class bodies bind (dataclass fields, config class attributes)."""
        return {
            target.id
            for info in self.facts.classes.values()
            for statement in info.node.body
            for target in flow.assigned_targets(statement)
            if isinstance(target, ast.Name)
        }

    def every_absence(self, parameter: str) -> list[Absence]:
        """Every layer construction of the file that can leave ``parameter`` None (a scan
        of the whole file: each call is a possible construction)."""
        # An edit anywhere with a False (or an InstanceNorm) may add such a construction.
        self.constants.note_scan(SCAN_PATTERN)
        if parameter not in self._absences:
            self._absences[parameter] = [
                absence
                for call in self._constructions
                for qualified, partial in self.built_by(call)
                if (absence := self._absence(call, qualified, partial, parameter)) is not None
            ]
        return self._absences[parameter]

    @cached_property
    def _constructions(self) -> list[ast.Call]:
        """The calls that may build a layer: a named or a computed callee."""
        found: list[ast.Call] = []
        for node in self.facts.nodes_of(ast.Call):
            func = node.func  # type: ignore[attr-defined]
            if isinstance(func, ast.Subscript) or (
                isinstance(func, (ast.Name, ast.Attribute)) and _may_name_a_layer(func)
            ):
                found.append(node)  # type: ignore[arg-type]
        return found

    def reassigned(self, obj: AbstractObject, parameter: str) -> bool:
        """Some code stores ``parameter`` into ``obj`` (``m.bias = nn.Parameter(...)``)."""
        for target, statement in self.evaluator.heap.stores.get(parameter, []):
            if obj in self.evaluator.value_of(target.value):
                self.constants.note_read(statement)
                return True
        return False


def _may_name_a_layer(func: ast.Name | ast.Attribute) -> bool:
    """``Conv2d``, ``norm_layer`` (a name), ``nn.Conv2d``, ``self.norm``, ``cfg.norm``
    (an attribute of a name); not a chain of calls or attributes."""
    return isinstance(func, ast.Name) or isinstance(func.value, ast.Name)


def _identifiers(expr: ast.AST) -> set[str]:
    """Names, attribute names and string keys in ``expr``."""
    found = set()
    for node in ast.walk(expr):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.add(node.value)
    return found


def _may_be_a_class(value: ast.expr) -> bool:
    """A value that may be a class or a partial: anything but a call (``Net()``,
    ``nn.Conv2d(...)``), except calls of ``partial`` and of ``dict``-style getters
    (``CFG.get("norm")``) and same-file factories, which may return one."""
    if not isinstance(value, ast.Call):
        return True
    name = flow.dotted_name(value.func) or ""
    return not name[:1].isupper() and not name.rsplit(".", 1)[-1][:1].isupper()
