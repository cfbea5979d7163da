"""What a hovered variable holds, read from the semantic model (``gradguard.semantic``):
the optimizer or model object a name holds at its line, through aliases, reaching
definitions and same-file helpers, matched to the hover index's entries by the call
that built it (the object's allocation site)."""

from __future__ import annotations

import ast
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from gradguard.analysis.resolution import SymbolKind
from gradguard.semantic.model import SemanticModel
from gradguard.semantic.objects import AbstractObject, ModuleObject, OptimizerObject, Value

if TYPE_CHECKING:
    from gradguard.analysis.facts import ModuleFacts
    from gradguard.lsp.symbols import ModelInfo, OptimizerInfo, SymbolIndex

log = logging.getLogger(__name__)
Info = TypeVar("Info")


def held_value(index: SymbolIndex, node: ast.AST) -> Value | None:
    """What ``node`` (a hovered name) holds where it is; for an assignment's target, what
    the statement assigns. None: the model has no answer."""
    model = semantic_model(index)
    if model is None:
        return None
    facts = model.facts
    try:
        if isinstance(getattr(node, "ctx", None), ast.Load):
            return model.value_of(node)
        statement = facts.enclosing_statement(node)
        if isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            if len(targets) == 1 and targets[0] is node:
                return model.value_of(statement.value)
    except RecursionError:
        log.debug("the semantic model gave up on a hovered name", exc_info=True)
    return None


def held_here(
    index: SymbolIndex, node: ast.AST, kind: type[AbstractObject], by_call: dict[ast.AST, Info]
) -> Info | None:
    """The index entry of the one ``kind`` object ``node`` holds, when the model knows
    it holds exactly one (a name that may hold two optimizers, or one the model does
    not know, is left to the index's binding lookup)."""
    value = held_value(index, node)
    if not value:
        return None
    objects = [obj for obj in value if isinstance(obj, kind)]
    if len(objects) != 1 or len(objects) != len(value):
        return None
    site = objects[0].site
    return by_call.get(site) if site is not None else None


def held_models(index: SymbolIndex, optimizer: OptimizerInfo) -> list[ModelInfo]:
    """The model bindings whose objects' parameters ``optimizer`` holds, as the model
    follows them (``net = model``, ``params = helper(model)``)."""
    if optimizer.call is None:
        return []
    value = held_value_of_call(index, optimizer.call)
    owners = {
        owner
        for obj in value
        if isinstance(obj, OptimizerObject)
        for held in obj.params
        for owner in getattr(held, "owners", ())
        if isinstance(owner, ModuleObject)
    }
    by_call = index.models_by_call()
    return [by_call[o.site] for o in owners if o.site in by_call]


def held_value_of_call(index: SymbolIndex, call: ast.AST) -> Value:
    model = semantic_model(index)
    if model is None:
        return frozenset()
    try:
        return model.value_of(call)
    except RecursionError:
        return frozenset()


def semantic_model(index: SymbolIndex) -> SemanticModel | None:
    """The index's own model of its facts: kept on the index, not in ``facts.shared``
    (the analysis released those; storing it there again would tie the tree in a cycle)."""
    if index.facts is None:
        return None
    if index.semantic is None:
        index.semantic = SemanticModel(index.facts)
    return index.semantic


@dataclass(frozen=True)
class BuiltModel:
    """What the semantic model says an assigned call holds, for the hover index."""

    call: ast.Call  # the call a hover names: the constructor in ``Net().to(d)``, a factory
    kind: SymbolKind | None  # MODULE_CLASS, MODULE_FACTORY; None: not classified yet
    returned: str | None  # the one class of module a factory returns, when the file shows it
    sites: frozenset[ast.AST]  # the allocation sites of the modules it holds


def built_model(index: SymbolIndex, value: ast.Call) -> BuiltModel | None:
    """The module ``value`` (an assignment's call) builds, as the model follows it: a
    class (``Net()``, ``nn.Linear(...)``, ``Net().to(device)``), a factory
    (``make_model()``, ``torchvision.models.resnet18()``), or an imported callee the
    resolver has not classified yet (kind None). None for anything else, and for a method
    that hands back a module built elsewhere (``model.to(device)``: the same binding)."""
    facts = index.facts
    assert facts is not None
    held = held_value_of_call(index, value)
    modules = [obj for obj in held if isinstance(obj, ModuleObject)]
    if not held or len(modules) != len(held):
        return _pending(facts, value)
    sites = frozenset(obj.site for obj in modules if obj.site is not None)
    inside = {node for node in ast.walk(value) if isinstance(node, ast.Call)}
    func = value.func
    if len(sites) == 1 and next(iter(sites)) in inside:
        built: ast.Call = next(iter(sites))  # type: ignore[assignment]
        if _is_class_call(facts, built):
            return BuiltModel(built, SymbolKind.MODULE_CLASS, None, sites)
        return BuiltModel(built, SymbolKind.MODULE_FACTORY, None, sites)
    if isinstance(func, ast.Name) and func.id in facts.functions:
        return BuiltModel(value, SymbolKind.MODULE_FACTORY, _one_class(facts, modules), sites)
    return None


def _pending(facts: ModuleFacts, value: ast.Call) -> BuiltModel | None:
    """An imported callee jedi has not classified: the hover asks again."""
    func = value.func
    if isinstance(func, ast.Name) and (func.id in facts.functions or func.id in facts.classes):
        return None
    qualified = facts.qualify(func)
    if qualified is None or qualified.startswith("torch."):
        return None
    kind = facts.callee_kind(func)  # jedi's answer may have landed since the model asked
    if kind in (SymbolKind.MODULE_CLASS, SymbolKind.MODULE_FACTORY):
        return BuiltModel(value, kind, None, frozenset())
    return BuiltModel(value, None, None, frozenset()) if kind is None else None


def _is_class_call(facts: ModuleFacts, call: ast.Call) -> bool:
    func = call.func
    if isinstance(func, ast.Name) and func.id in facts.classes:
        return True
    if isinstance(func, ast.Name) and func.id in facts.functions:
        return False
    return facts.callee_kind(func) is SymbolKind.MODULE_CLASS


def _one_class(facts: ModuleFacts, modules: list[ModuleObject]) -> str | None:
    """The class every module is an instance of (``torch.nn.Sequential``, ``Net``);
    None when they differ or one comes from a factory whose class is not shown."""
    classes = set()
    for obj in modules:
        known = obj.torch_layer or obj.class_name in facts.classes
        if not known and not (isinstance(obj.site, ast.Call) and _is_class_call(facts, obj.site)):
            return None
        classes.add(obj.class_name)
    return classes.pop() if len(classes) == 1 else None
