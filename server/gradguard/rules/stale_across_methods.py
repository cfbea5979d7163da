"""GG102's findings across the methods of a class (``semantic/across_methods.py``)."""

from __future__ import annotations

from collections.abc import Iterator

from gradguard.findings import Finding, RelatedLocation
from gradguard.rules.base import Rule, RuleContext
from gradguard.semantic import across_methods


def findings(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    """A trainer's ``clone()`` sharing its optimizer; a Lightning hook replacing a layer
    after ``configure_optimizers()`` ran."""
    span = context.source.span_of
    for shared in across_methods.shared_optimizers(context.facts):
        kept, copied = shared.kept, shared.copied
        yield rule.finding(
            context,
            shared.node,
            f"`{shared.method.name}()` gives the new object a deep copy of `{copied}` but the "
            f"same `{kept}`, which does not hold the copy's parameters (a deep copy makes new "
            f"ones), so `{kept}.step()` on the clone never trains its model",
            related=[RelatedLocation(span(shared.step), f"`{kept}` is stepped here")],
        )
    for late in across_methods.late_replacements(context.facts, context.optimizers.creations):
        found = late.replacement
        yield rule.finding(
            context,
            found.node,
            f"`{late.hook.name}()` replaces `{found.part_text}` after Lightning called "
            "`configure_optimizers()` (fit runs it first), so the optimizer never updates the "
            "new parameters",
            related=[
                RelatedLocation(
                    span(late.creation.call), "The optimizer is created here, before the hook"
                )
            ],
        )
