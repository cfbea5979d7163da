"""``SGD(model.parameters())`` of a model whose layers keep their weights as buffers
(``self.register_buffer("weight", ...)``): ``parameters()`` yields nothing, and the
optimizer raises (measured on torch 2.13.0). ``semantic.parameter_free`` decides which
models the file shows to have no parameters."""

from __future__ import annotations

from collections.abc import Iterator

from gradguard.analysis.optimizers import OptimizerCreation
from gradguard.findings import Finding, RelatedLocation, Severity
from gradguard.rules.gg101.base import EMPTY_LIST, Checker
from gradguard.semantic.objects import ModuleObject, ParameterIterable


def check(checker: Checker, creation: OptimizerCreation) -> Iterator[Finding]:
    if creation.params is None or not checker.kinds.parameter_free.buffer_registrations:
        return
    value = checker.kinds.value(creation.params)
    if not value or not all(isinstance(obj, ParameterIterable) for obj in value):
        return
    owners = {owner for obj in value for owner in obj.owners}  # type: ignore[attr-defined]
    if not owners or not all(isinstance(owner, ModuleObject) for owner in owners):
        return
    sites = [checker.kinds.parameter_free.buffer_site(owner) for owner in owners]
    if any(site is None for site in sites):
        return
    first = min(sites, key=lambda s: (s.lineno, s.col_offset))  # type: ignore[union-attr]
    classes = ", ".join(sorted(f"`{o.class_name}`" for o in owners))  # type: ignore[attr-defined]
    yield checker.rule.finding(
        checker.context,
        creation.call,
        f"{classes} keeps its weights in buffers (`register_buffer`), which `parameters()` "
        f"does not return: the model has no parameters and `{checker.name_of(creation)}` "
        f"raises `{EMPTY_LIST}`",
        severity=Severity.ERROR,
        related=(
            RelatedLocation(
                checker.source.span_of(first),  # type: ignore[arg-type]
                "registered as a buffer, not a parameter",
            ),
        ),
    )
