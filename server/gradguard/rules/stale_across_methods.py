"""GG102's findings across the methods of a class (``semantic/across_methods.py``)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradguard.analysis import flow
from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.optimizers import OptimizerCreation
from gradguard.findings import Finding, RelatedLocation
from gradguard.rules.base import Rule, RuleContext
from gradguard.semantic import across_methods, held_optimizers, object_optimizers
from gradguard.semantic.object_optimizers import BuiltByObject
from gradguard.semantic.reads import ReadLog
from gradguard.semantic.replacements import Replacement, replacements_in


def findings(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    """A trainer's ``clone()`` sharing its optimizer; a Lightning hook replacing a layer
    after ``configure_optimizers()`` ran."""
    span = context.source.span_of
    reads = ReadLog.of(context.facts)
    if reads is not None:  # the editor: a hook's finding depends on every configure_optimizers
        reads.scan(r"\bconfigure_optimizers\b")
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
    # Only constructions in a ``configure_optimizers`` method take part: jedi is asked
    # about no other.
    in_hook = context.optimizers.creations_where(_in_configure_optimizers)
    yield from context.optimizers.findings_of_each(
        lambda creation: object_findings(rule, context, creation)
    )
    for late in across_methods.late_replacements(context.facts, in_hook):
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


def _in_configure_optimizers(creation: OptimizerCreation) -> bool:
    scope = creation.scope
    if not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    return scope.name == "configure_optimizers" and creation.params is not None


# -- an optimizer an object's method built (``Trainer.__init__``), replaced around -------


def object_findings(
    rule: Rule, context: RuleContext, creation: OptimizerCreation
) -> Iterator[Finding]:
    """``trainer = Trainer(model)`` (``__init__`` builds ``self.optimizer`` from
    ``self.model``), then ``trainer.model.fc = ...`` / ``trainer.replace_head()`` and a
    later ``trainer.fit()`` that steps ``self.optimizer``."""
    facts = context.facts
    for built in object_optimizers.built_by_objects(facts, [creation]):
        touches = held_optimizers.Touches(facts, creation.call)
        for info in object_optimizers.later_statements(facts, built):
            for found in replacements_in(facts, info.node):
                if found.kind in ("model", "copy") or found.new_objects & built.held:
                    continue
                owner = object_optimizers.part_owner(
                    facts, found.owner, found.frame, found.part, info.node
                )
                if not owner & built.held:
                    continue
                use = _use_after(facts, built, info, found, touches)
                if use is not None:
                    yield _object_finding(rule, context, built, found, use)


def _use_after(
    facts: ModuleFacts,
    built: BuiltByObject,
    info: flow.StatementInfo,
    found: Replacement,
    touches: held_optimizers.Touches,
) -> ast.AST | None:
    """Where the optimizer is used after the replacement: later in the method that
    replaces (``finetune()`` replacing the head, then stepping), or in a later statement."""
    call = found.node
    if found.via and isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute):
        rest = touches.of_method_call(call, (), 0, after=found.via_line)
        if rest == "rebuild":
            return None
        if rest == "use":
            return call
    return object_optimizers.used_after(facts, built, info, touches)


def _object_finding(
    rule: Rule, context: RuleContext, built: BuiltByObject, found: Replacement, use: ast.AST
) -> Finding:
    span = context.source.span_of
    optimizer = f"self.{built.field}"
    what = f"`{found.part_text}`"
    if found.via:
        what = f"`{found.via}()` replaces {what} (line {found.via_line})"
    else:
        what = f"{what} is replaced"
    return rule.finding(
        context,
        found.node,
        f"{what} {built.after()}, so `{optimizer}.step()` never updates the new parameters",
        related=[
            RelatedLocation(span(built.creation.statement.node), built.created_here()),
            RelatedLocation(span(use), f"`{optimizer}` is used here, after the replacement"),
        ],
    )
