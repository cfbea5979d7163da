"""Lists of parameter-group dicts (``[{"params": ..., "lr": ...}, ...]``): the value the
evaluator gives such a list, and the group dicts a definition of a name holds (GG104).

A list literal or comprehension of dicts is a ``ParamGroupsObject`` allocated where it is
written, so it travels through names, same-file helpers (``get_groups(model)``) and
conditional expressions like any other object. A list that starts empty and is filled
with ``groups.append({...})`` holds the appended dicts: the appends its definition
reaches.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gradguard.analysis import flow
from gradguard.semantic.objects import AbstractObject

if TYPE_CHECKING:
    from gradguard.semantic.bindings import Definition
    from gradguard.semantic.model import SemanticModel


@dataclass(frozen=True)
class ParamGroupsObject(AbstractObject):
    """A list of parameter-group dicts made at ``site``; ``dicts`` its dict expressions."""

    dicts: tuple[ast.expr, ...] = ()

    def __repr__(self) -> str:
        return f"ParamGroups({len(self.dicts)})"


def group_list(expr: ast.AST) -> ParamGroupsObject | None:
    """``[{...}, ...]`` or ``[{...} for ...]``: the object it allocates."""
    if isinstance(expr, ast.List) and expr.elts and all(is_dict(e) for e in expr.elts):
        return ParamGroupsObject(expr, tuple(expr.elts))
    if isinstance(expr, ast.ListComp) and is_dict(expr.elt):
        return ParamGroupsObject(expr, (expr.elt,))
    return None


def is_dict(expr: ast.expr) -> bool:
    if isinstance(expr, ast.Dict):
        return True
    return isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "dict"


def dicts_of(model: SemanticModel, definition: Definition) -> list[ast.expr]:
    """The group dicts the name holds after ``definition`` (empty: not a group list)."""
    value = definition.value
    if definition.kind != "assign" or value is None or definition.statement is None:
        return []
    if isinstance(value, ast.List) and not value.elts:
        return _appended(model, definition)
    held = model.value_of(value)
    if not held or not all(isinstance(obj, ParamGroupsObject) for obj in held):
        return []
    return [d for obj in held for d in obj.dicts]  # type: ignore[attr-defined]


def _appended(model: SemanticModel, definition: Definition) -> list[ast.expr]:
    """``groups = []`` then ``groups.append({...})`` where that definition reaches."""
    facts = model.facts
    statement = definition.statement
    assert statement is not None
    scope = facts.enclosing_scope(statement)
    found: list[ast.expr] = []
    for info in facts.statements_of(scope):
        if info.node is statement or isinstance(info.node, flow.SCOPE_TYPES):
            continue
        for call in flow.calls_in(info.node):
            receiver = getattr(call.func, "value", None)
            if not (
                flow.method_name(call) == "append"
                and isinstance(receiver, ast.Name)
                and receiver.id == definition.name
            ):
                continue
            if definition not in model.reaching(definition.name, info.node):
                continue
            if len(call.args) != 1 or not is_dict(call.args[0]):
                return []
            found.append(call.args[0])
    return found
