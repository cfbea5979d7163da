"""An optimizer built from a function's or method's parameter that every call in the
file passes a module: ``OptimizerWrapper(net, "sgd")`` whose ``__init__`` does
``optim.SGD(model, lr=lr)`` in one branch. The parameter itself is unknown (other
modules may call it), so this check asks ``semantic.callers`` what the file passes."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradguard.analysis.optimizers import OptimizerCreation
from gradguard.findings import Finding, Fix, FixSafety, RelatedLocation, Severity
from gradguard.rules.gg101.base import Checker
from gradguard.semantic.callers import enclosing_parameter
from gradguard.semantic.kinds import refused_as_parameters

# Modules that are iterable (of modules or keys): the optimizer fails on an element, not
# on iterating (an `nn.ParameterList`, iterable of Parameters, is accepted: not reported).
_ITERABLE_MODULES = frozenset({"Sequential", "ModuleList", "ModuleDict", "ParameterDict"})


def check(checker: Checker, creation: OptimizerCreation) -> Iterator[Finding]:
    params = creation.params
    if not isinstance(params, ast.Name):
        return
    parameter = enclosing_parameter(checker.model.reaching(params.id, creation.statement.node))
    if parameter is None:
        return
    passed = checker.kinds.callers.passed(parameter)
    if not passed or not all(
        value and all(refused_as_parameters(obj) for obj in value) for _, value in passed
    ):
        return
    first_call = passed[0][0]
    classes = {obj.layer for _, value in passed for obj in value}  # type: ignore[attr-defined]
    error = "`TypeError`"
    if len(classes) == 1 and not classes & _ITERABLE_MODULES:
        error = f"`TypeError: '{classes.pop()}' object is not iterable`"
    span = checker.source.span_of(params)
    edit = checker.source.insert_at(span.end, ".parameters()")
    fix = Fix("Pass `.parameters()`", FixSafety.UNSAFE, (edit,))
    yield checker.rule.finding(
        checker.context,
        creation.call,
        f"`{checker.name_of(creation)}` receives `{params.id}`, which every call in this "
        f"file passes a module (line {first_call.lineno}), instead of its parameters, and "
        f"raises {error} at construction",
        severity=Severity.ERROR,
        related=(RelatedLocation(checker.source.span_of(first_call), "passes a module here"),),
        fixes=(fix,),
    )
