"""Steps skipped only when the gradients are not finite: ``if torch.isfinite(grad_norm):
optimizer.step()`` runs in every iteration whose gradients are usable, so it is no gradient
accumulation (GG402): nothing between two such steps clears ``.grad``."""

from __future__ import annotations

import ast

from gradguard.semantic.steps import TrainingSteps

_FINITE = frozenset({"isfinite"})
_NOT_FINITE = frozenset({"isnan", "isinf"})
_UNWRAPPED = frozenset({"all", "item"})


def runs_unless_non_finite(analysis: TrainingSteps, stmt: ast.stmt, region: ast.AST) -> bool:
    """``stmt`` sits right in the body of an ``if`` that tests that a value is finite, and
    that ``if`` is reached whenever ``region``'s body is."""
    guard = analysis.facts.parents.get(stmt)
    return (
        isinstance(guard, ast.If)
        and any(s is stmt for s in guard.body)
        and is_finite_test(guard.test)
        and analysis.path_is_unconditional(guard, region, loops_ok=True)
    )


def is_finite_test(test: ast.expr) -> bool:
    """``torch.isfinite(norm)`` (``.all()``, ``.item()``, ``bool(...)`` around it),
    ``math.isfinite(norm)``, ``not torch.isnan(norm)``, ``not (isnan(x) or isinf(x))``."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        operand = test.operand
        parts = operand.values if isinstance(operand, ast.BoolOp) else [operand]
        if isinstance(operand, ast.BoolOp) and not isinstance(operand.op, ast.Or):
            return False
        return all(_called(p) in _NOT_FINITE for p in parts)
    return _called(test) in _FINITE


def _called(expr: ast.expr) -> str | None:
    """The function or method a test calls, past ``.all()`` / ``.item()`` / ``bool()``."""
    while isinstance(expr, ast.Call):
        func = expr.func
        if isinstance(func, ast.Name) and func.id == "bool" and len(expr.args) == 1:
            expr = expr.args[0]
        elif isinstance(func, ast.Attribute) and func.attr in _UNWRAPPED and not expr.args:
            expr = func.value
        elif isinstance(func, (ast.Name, ast.Attribute)):
            return func.id if isinstance(func, ast.Name) else func.attr
        else:
            return None
    return None
