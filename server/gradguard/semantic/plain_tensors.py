"""Plain tensors: does an expression certainly make a new ``torch.Tensor`` (never a
Parameter)? Arithmetic, ``torch.*`` functions, methods that return a new tensor, and
``.data`` do, on a tensor or a parameter; a name does when every definition that reaches
it does. Moves and casts (``.to()``, ``.double()``) do not: on a no-op they hand back
the Parameter itself.
"""

from __future__ import annotations

import ast

from gradguard.analysis import flow
from gradguard.semantic.catalogue.tensors import (
    NEW_TENSOR_METHODS,
    NEW_TENSOR_NAMESPACES,
    NOT_NEW_TENSOR_FUNCTIONS,
)
from gradguard.semantic.limits import NAME_DEPTH
from gradguard.semantic.model import SemanticModel
from gradguard.semantic.objects import ParameterIterable, ParameterObject, TensorObject
from gradguard.semantic.registered import RegisteredParameters


def is_plain_tensor(model: SemanticModel, value: ast.AST, at: ast.stmt, depth: int = 0) -> bool:
    """``value``, evaluated at ``at``, is certainly a new plain tensor."""
    if depth > NAME_DEPTH:
        return False
    if isinstance(value, ast.BinOp):
        return True
    if isinstance(value, ast.UnaryOp):
        return isinstance(value.op, (ast.USub, ast.Invert))
    if isinstance(value, ast.Call):
        qualified = model.facts.qualify(value.func) or ""
        if qualified.startswith("torch."):
            return _is_tensor_function(qualified)
        if flow.method_name(value) in NEW_TENSOR_METHODS:
            receiver = value.func.value  # type: ignore[attr-defined]
            return is_tensor(model, receiver, at, depth + 1)
        return False
    if isinstance(value, ast.Attribute) and value.attr == "data":
        return is_tensor(model, value.value, at, depth + 1)
    if isinstance(value, ast.Name):
        definitions = model.reaching(value.id, at)
        return bool(definitions) and all(
            d.kind in ("assign", "walrus")
            and d.value is not None
            and d.statement is not None
            and is_plain_tensor(model, d.value, d.statement, depth + 1)
            for d in definitions
        )
    return False


def is_tensor(model: SemanticModel, expr: ast.expr, at: ast.stmt, depth: int = 0) -> bool:
    """``expr`` is a tensor or a parameter (a plain tensor or not)."""
    if isinstance(expr, ast.Attribute) and RegisteredParameters.of(model).is_parameter(
        expr.value, expr.attr, at
    ):
        return True
    if isinstance(expr, ast.Name) and named_parameter_of_loop(model, expr, at):
        return True
    value = model.value_of(expr)
    if value and all(isinstance(o, (TensorObject, ParameterObject)) for o in value):
        return True
    return is_plain_tensor(model, expr, at, depth)


def named_parameter_of_loop(model: SemanticModel, name: ast.Name, at: ast.stmt) -> bool:
    """``p`` of ``for n, p in <model>.named_parameters():`` (the pair's second half)."""
    definitions = model.reaching(name.id, at)
    return bool(definitions) and all(
        isinstance(loop := d.statement, (ast.For, ast.AsyncFor))
        and isinstance(loop.target, ast.Tuple)
        and len(loop.target.elts) == 2
        and isinstance(second := loop.target.elts[1], ast.Name)
        and second.id == name.id
        and _named_parameters(model, loop.iter)
        for d in definitions
    )


def _named_parameters(model: SemanticModel, iterable: ast.expr) -> bool:
    value = model.value_of(iterable)
    return bool(value) and all(isinstance(o, ParameterIterable) and o.named for o in value)


def _is_tensor_function(qualified: str) -> bool:
    last = qualified.rsplit(".", 1)[-1]
    if qualified in NOT_NEW_TENSOR_FUNCTIONS or last.endswith("_") or not last[:1].islower():
        return False
    if qualified.startswith(NEW_TENSOR_NAMESPACES):
        return True
    return qualified.count(".") == 1
