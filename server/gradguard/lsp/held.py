"""What a hovered variable holds, read from the semantic model (``gradguard.semantic``):
the optimizer or model object a name holds at its line, through aliases, reaching
definitions and same-file helpers, matched to the hover index's entries by the call
that built it (the object's allocation site)."""

from __future__ import annotations

import ast
import logging
from typing import TYPE_CHECKING, TypeVar

from gradguard.semantic.model import SemanticModel
from gradguard.semantic.objects import AbstractObject, ModuleObject, OptimizerObject, Value

if TYPE_CHECKING:
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
