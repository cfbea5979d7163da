"""``SGD(model.parameters())`` of a model whose layers keep their weights as buffers
(``self.register_buffer("weight", ...)``): ``parameters()`` yields nothing, and the
optimizer raises (measured on torch 2.13.0). ``semantic.parameter_free`` decides which
models the file shows to have no parameters."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradguard.analysis.optimizers import OptimizerCreation
from gradguard.findings import Finding, RelatedLocation, Severity
from gradguard.rules.gg101.base import EMPTY_LIST, Checker
from gradguard.semantic.object_optimizers import built_by_objects
from gradguard.semantic.objects import AbstractObject, ModuleObject, ParameterIterable


def check(checker: Checker, creation: OptimizerCreation) -> Iterator[Finding]:
    if creation.params is None or not checker.kinds.parameter_free.buffer_registrations:
        return
    value = checker.kinds.value(creation.params)
    known = bool(value) and all(isinstance(obj, ParameterIterable) for obj in value)
    owners = {owner for obj in value if known for owner in obj.owners}  # type: ignore[attr-defined]
    if owners and all(isinstance(owner, ModuleObject) for owner in owners):
        yield from _reported(checker, creation, owners)
        return
    # ``self.optimizer = SGD(self.model.parameters())`` in ``__init__``: the model each
    # construction of the class in this file passes (``Trainer(Fixed())``).
    for built in built_by_objects(checker.context.facts, [creation]):
        yield from _reported(checker, creation, set(built.owners), built.call, built.class_name)


def _reported(
    checker: Checker,
    creation: OptimizerCreation,
    owners: set[AbstractObject],
    built_at: ast.Call | None = None,
    made: str = "",
) -> Iterator[Finding]:
    sites = [checker.kinds.parameter_free.buffer_site(owner) for owner in owners]
    if not sites or any(site is None for site in sites):
        return
    first = min(sites, key=lambda s: (s.lineno, s.col_offset))  # type: ignore[union-attr]
    classes = ", ".join(sorted(f"`{o.class_name}`" for o in owners))  # type: ignore[attr-defined]
    yield checker.rule.finding(
        checker.context,
        creation.call,
        f"{classes} keeps its weights in buffers (`register_buffer`), which `parameters()` "
        f"does not return: the model has no parameters and `{checker.name_of(creation)}` "
        f"raises `{EMPTY_LIST}`"
        + (f" when line {built_at.lineno} makes a `{made}`" if built_at is not None else ""),
        severity=Severity.ERROR,
        related=(
            RelatedLocation(
                checker.source.span_of(first),  # type: ignore[arg-type]
                "registered as a buffer, not a parameter",
            ),
        ),
    )
