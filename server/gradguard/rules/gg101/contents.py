"""An optimizer given an iterable of the wrong things: a dict (its string keys), the
detached copies of ``state_dict().values()``, tensors computed from parameters."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradguard.analysis import flow
from gradguard.analysis.optimizers import OptimizerCreation
from gradguard.findings import Finding, Severity
from gradguard.rules.gg101.base import NON_LEAF, ONLY_TENSORS_STR, Checker
from gradguard.semantic.catalogue.tensors import ALWAYS_NON_LEAF_METHODS, DTYPE_CHANGING_CASTS

# Tensor methods whose result is a non-leaf when the input requires grad.
NON_LEAF_METHODS = ALWAYS_NON_LEAF_METHODS | DTYPE_CHANGING_CASTS


def check(checker: Checker, creation: OptimizerCreation) -> Iterator[Finding]:
    if creation.params is None:
        return
    optimizer = checker.name_of(creation)
    value = checker.argument_value(creation.params)
    if _is_dict_expression(checker, value):
        yield checker.finding(
            creation.call,
            f"`{optimizer}` receives a dict, iterates its string keys and raises "
            f"`{ONLY_TENSORS_STR}`",
            Severity.ERROR,
        )
    elif _is_state_dict_values(checker, value):
        yield checker.finding(
            creation.call,
            f"`{optimizer}` receives `state_dict()` values, which are detached copies "
            "whose `.grad` stays None, so `step()` skips them and the model is never "
            "trained",
            Severity.WARNING,
        )
    elif has_non_leaf_element(checker, value):
        yield checker.finding(
            creation.call,
            f"`{optimizer}` receives a tensor computed from one that requires grad (a "
            f"non-leaf) and raises `{NON_LEAF}`",
            Severity.ERROR,
        )


def has_non_leaf_element(checker: Checker, expr: ast.expr) -> bool:
    if not isinstance(expr, (ast.List, ast.Tuple)):
        return False
    return any(is_non_leaf(checker, element) for element in expr.elts)


def is_non_leaf(checker: Checker, expr: ast.expr) -> bool:
    """An operation on a tensor that requires grad: its result is a non-leaf."""
    is_parameter = checker.kinds.is_parameter_tensor
    if isinstance(expr, ast.BinOp):
        return is_parameter(expr.left) or is_parameter(expr.right)
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
        return is_parameter(expr.operand)
    if isinstance(expr, ast.Call) and flow.method_name(expr) in NON_LEAF_METHODS:
        return is_parameter(expr.func.value)  # type: ignore[attr-defined]
    return False


def _is_dict_expression(checker: Checker, expr: ast.expr) -> bool:
    if isinstance(expr, (ast.Dict, ast.DictComp)):
        return True
    if (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Name)
        and expr.func.id == "dict"
        and checker.kinds.is_builtin("dict")
    ):
        return True
    # model.state_dict() itself (its keys are strings).
    return isinstance(expr, ast.Call) and flow.method_name(expr) == "state_dict"


def _is_state_dict_values(checker: Checker, expr: ast.expr) -> bool:
    expr = checker.inside_list_call(expr)
    return (
        isinstance(expr, ast.Call)
        and flow.method_name(expr) == "values"
        and isinstance(expr.func.value, ast.Call)  # type: ignore[attr-defined]
        and flow.method_name(expr.func.value) == "state_dict"  # type: ignore[attr-defined]
        and not any(k.arg == "keep_vars" for k in expr.func.value.keywords)  # type: ignore[attr-defined]
    )
