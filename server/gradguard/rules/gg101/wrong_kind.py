"""An optimizer given something of the wrong kind: an empty literal, a bound method, a
module, a single tensor (also inside a parameter-group dict)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradguard.analysis.optimizers import OptimizerCreation
from gradguard.findings import Finding, Fix, FixSafety, Severity, Span, TextEdit
from gradguard.rules.gg101 import add_param_group_move
from gradguard.rules.gg101.base import EMPTY_LIST, NON_LEAF, NOT_ITERABLE, Checker
from gradguard.rules.gg101.contents import has_non_leaf_element, is_non_leaf


def check(checker: Checker, creation: OptimizerCreation) -> Iterator[Finding]:
    params = creation.params
    if params is None:
        return
    optimizer = checker.name_of(creation)
    call = creation.call
    source = checker.source
    if _is_empty_literal(checker, params):
        fixes = tuple(add_param_group_move.fixes(checker, creation))
        yield checker.finding(
            call,
            f"`{optimizer}` receives an empty parameter list and raises `{EMPTY_LIST}` "
            "at construction",
            Severity.ERROR,
            fixes,
        )
    elif is_missing_call(checker, params):
        yield missing_call_finding(checker, call, params, optimizer)
    elif checker.kinds.is_module_refused_as_parameters(params):
        yield checker.finding(
            call,
            f"`{optimizer}` receives the module `{source.node_text(params)}` instead "
            "of its parameters and raises `TypeError` at construction (a module is not "
            "an iterable of tensors)",
            Severity.ERROR,
            (module_fix(source.span_of(params)),),
        )
    elif checker.kinds.is_parameter_tensor(params):
        text = source.node_text(params)
        yield checker.finding(
            call,
            f"`{optimizer}` receives the single tensor `{text}` and raises `{NOT_ITERABLE} "
            "of Tensors or dicts`",
            Severity.ERROR,
            (Fix("Wrap in a list", FixSafety.SAFE, (source.replace(params, f"[{text}]"),)),),
        )


def check_groups(checker: Checker, creation: OptimizerCreation) -> Iterator[Finding]:
    """``[{'params': model.parameters}]``, ``[{'params': model}]``, non-leaf groups."""
    params = creation.params
    if not isinstance(params, (ast.List, ast.Tuple)):
        return
    optimizer = checker.name_of(creation)
    for element in params.elts:
        if not isinstance(element, ast.Dict):
            continue
        for key, value in zip(element.keys, element.values, strict=False):
            if not (isinstance(key, ast.Constant) and key.value == "params"):
                continue
            if is_missing_call(checker, value):
                yield missing_call_finding(checker, creation.call, value, optimizer)
            elif checker.kinds.is_module(value):
                yield checker.finding(
                    creation.call,
                    f"A parameter group of `{optimizer}` holds the module "
                    f"`{checker.source.node_text(value)}` instead of its parameters, which "
                    "raises `TypeError` at construction",
                    Severity.ERROR,
                    (module_fix(checker.source.span_of(value)),),
                )
            elif has_non_leaf_element(checker, value) or is_non_leaf(checker, value):
                yield checker.finding(
                    creation.call,
                    f"A parameter group of `{optimizer}` holds a tensor computed from one "
                    f"that requires grad (a non-leaf), which raises `{NON_LEAF}`",
                    Severity.ERROR,
                )


def is_missing_call(checker: Checker, expr: ast.expr) -> bool:
    if not (isinstance(expr, ast.Attribute) and expr.attr in ("parameters", "named_parameters")):
        return False
    if checker.kinds.is_module(expr.value):
        return True
    return not checker.kinds.non_module_parameter_methods


def missing_call_finding(
    checker: Checker, call: ast.Call, attribute: ast.expr, optimizer: str
) -> Finding:
    source = checker.source
    end = source.span_of(attribute).end
    fix = Fix("Add the missing `()`", FixSafety.SAFE, (source.insert_at(end, "()"),))
    return checker.finding(
        call,
        f"`{optimizer}` receives the method `{source.node_text(attribute)}` instead "
        "of calling it and raises `TypeError: 'method' object is not iterable`",
        Severity.ERROR,
        (fix,),
    )


def module_fix(span: Span) -> Fix:
    return Fix(
        "Pass `.parameters()`",
        FixSafety.SAFE,
        (TextEdit(Span(span.end, span.end), ".parameters()"),),
    )


def _is_empty_literal(checker: Checker, expr: ast.expr) -> bool:
    if isinstance(expr, (ast.List, ast.Tuple)):
        return not expr.elts
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
        return (
            expr.func.id in ("list", "tuple")
            and not expr.args
            and not expr.keywords
            and checker.kinds.is_builtin(expr.func.id)
        )
    return False
