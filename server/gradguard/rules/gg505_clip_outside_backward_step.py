"""## What it does
Checks for gradient clipping (`torch.nn.utils.clip_grad_norm_`, `clip_grad_value_`)
that cannot affect the iteration's update: called before the iteration's `backward()`
(after `zero_grad()`, or at the top of the loop) or after its `optimizer.step()`.

The iteration is the body of the innermost loop around the clip that runs a backward,
or the enclosing function (one training step per call); same-file helpers it calls
(`self.training_step(batch)`) are followed. Not reported: clipping after the backward
(also after `scaler.unscale_(optimizer)` or under an accumulation condition), clipping
inside an `optimizer.step(closure)` closure after its backward, and clipping after the
step when the loop never clears the gradients (GG402's concern).

## Why is this bad?
Clipping exists to bound the update of the step that follows the backward. Before the
backward there is nothing to clip (or only the previous iteration's gradients, which
the step already used); after the step the update has already been applied and the
clipped gradients are thrown away by the next `zero_grad()`. Training runs unclipped
and nothing warns: the `max_norm` setting silently does nothing.

## What PyTorch does
`clip_grad_norm_` skips parameters whose `.grad` is `None`: after `zero_grad()` it
returns `tensor(0.)` without an error and clips nothing. Measured on torch 2.13.0 with a
true gradient norm of 116 and `max_norm=1.0`: clipping before the backward left updates
of norm 11.6, 7.6 and 6.1 (against 0.1 when clipped between backward and step);
clipping after the step returned 115.99 but the update had already been 11.6.
`clip_grad_value_` before the first backward raises `RuntimeError: Expected
!nested_tensorlist[0].empty() to be true`.

## Example
```python
import torch
from torch import nn

torch.manual_seed(0)
model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(16, 4), torch.randn(16, 1) * 100

for step in range(3):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    before = nn.utils.parameters_to_vector(model.parameters()).detach()
    loss.backward()
    optimizer.step()
    update = (nn.utils.parameters_to_vector(model.parameters()) - before).norm()
```

## Use instead
```python
import torch
from torch import nn

torch.manual_seed(0)
model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(16, 4), torch.randn(16, 1) * 100

for step in range(3):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    before = nn.utils.parameters_to_vector(model.parameters()).detach()
    loss.backward()
    norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    optimizer.step()
    update = (nn.utils.parameters_to_vector(model.parameters()) - before).norm()
```

## Fix safety
The fix moves the clipping statement to just before the optimizer's step of that
iteration. It is unsafe: code between the old and the new place that reads the clip's
result or the gradients sees other values. It is offered only when the clip and the step
are statements of the same function, each on its own lines, nothing between rebinds a
name the clip reads, and the step is not `scaler.step(...)` without an `unscale_` first
(clipping scaled gradients is GG502's bug).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradguard.analysis import edits
from gradguard.analysis import names as names_of
from gradguard.findings import Finding, Fix, FixSafety, RelatedLocation, Severity
from gradguard.rules.base import FixAvailability, Rule, RuleContext, Silent
from gradguard.semantic.catalogue import training
from gradguard.semantic.step_events import EventKind, StepEvent
from gradguard.semantic.step_queries import binds_name, describe, is_before
from gradguard.semantic.steps import TrainingSteps, training_steps

_CLIP_NAMES = sorted({name.rsplit(".", 1)[-1] for name in training.CLIP_FUNCTIONS})
_GRADIENT_EVENTS = (EventKind.BACKWARD, EventKind.UNSCALE, EventKind.OPAQUE)


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    analysis = training_steps(context.facts, context.optimizers)
    for name in _CLIP_NAMES:
        for clip, scope in analysis.direct_events(name):
            if clip.kind is EventKind.CLIP:
                found = _finding(rule, context, analysis, clip, scope)
                if found is not None:
                    yield found


def _finding(
    rule: Rule, context: RuleContext, analysis: TrainingSteps, clip: StepEvent, scope: ast.AST
) -> Finding | None:
    region = analysis.region_of(clip, scope)
    events = analysis.region_events(region)
    before = _nearest_before(analysis, clip, region)
    if before is not None and before.kind in _GRADIENT_EVENTS:
        return None
    after = [e for e in events if is_before(clip.statement, e.statement)]
    backward_after = next((e for e in after if e.kind is EventKind.BACKWARD), None)
    step_after = next(
        (
            e
            for e in after
            if e.kind is EventKind.STEP
            and backward_after is not None
            and not is_before(e.statement, backward_after.statement)
        ),
        None,
    )
    source = context.source
    clip_text = describe(source.node_text(clip.node), "the gradient clipping")
    if before is not None and before.kind is EventKind.STEP and not _wrapped(before, clip):
        if not any(e.kind is EventKind.CLEAR for e in events):
            return None  # gradients are never cleared: the clip reaches the next step
        step_text = describe(source.node_text(before.call), "the optimizer step")
        message = (
            f"{clip_text} runs after {step_text}: the update was already applied with the "
            "unclipped gradients, and the next `zero_grad()` throws the clipped ones away, "
            "so clipping has no effect on any update"
        )
        related = [RelatedLocation(source.span_of(before.call), "the step it comes after")]
        return rule.finding(
            context,
            clip.node,
            message,
            related=related,
            fixes=_fix(context, analysis, clip, before),
        )
    if backward_after is None or step_after is None:
        return None
    if before is not None and before.kind is EventKind.CLEAR:
        effect = "every `.grad` was just cleared, so it clips nothing (it returns `tensor(0.)`)"
    else:
        effect = "it clips what is left from the previous iteration, not this one's gradients"
    backward_text = describe(source.node_text(backward_after.call), "`backward()`")
    message = (
        f"{clip_text} runs before {backward_text}: {effect}, and the step uses the new "
        "gradients unclipped"
    )
    related = [RelatedLocation(source.span_of(backward_after.call), "the backward it precedes")]
    return rule.finding(
        context,
        clip.node,
        message,
        related=related,
        fixes=_fix(context, analysis, clip, step_after),
    )


def _nearest_before(analysis: TrainingSteps, clip: StepEvent, region: ast.AST) -> StepEvent | None:
    """The nearest backward, unscale, step, clearing or opaque helper before the clip
    (through the previous iteration)."""
    wanted = (*_GRADIENT_EVENTS, EventKind.STEP, EventKind.CLEAR)
    for occurrence in analysis.walk_back(clip.statement, region):
        if occurrence.event.kind in wanted:
            return occurrence.event
    return None


def _wrapped(event: StepEvent, clip: StepEvent) -> bool:
    return not is_before(event.statement, clip.statement)


def _fix(
    context: RuleContext, analysis: TrainingSteps, clip: StepEvent, step: StepEvent
) -> list[Fix]:
    """Move the clip statement to just before the step."""
    source, facts = context.source, context.facts
    statement = clip.statement
    if clip.via_helper or step.via_helper or not isinstance(statement, (ast.Expr, ast.Assign)):
        return []
    destination = facts.enclosing_statement(step.call)
    block = analysis.block_of(statement)
    if destination is None or block is None or len(block) < 2:
        return []
    if facts.enclosing_scope(destination) is not facts.enclosing_scope(statement):
        return []
    if step.scaler is not None and not _unscaled_before(analysis, step, clip):
        return []
    first, last = sorted((statement, destination), key=lambda s: (s.lineno, s.col_offset))
    between = [
        s.node
        for s in facts.statements_of(facts.enclosing_scope(statement))
        if is_before(first, s.node) and is_before(s.node, last) and s.node is not statement
    ]
    if any(binds_name(between, name) for name in names_of.names_read(statement)):
        return []
    moved = edits.move_statement(source, statement, before=destination)
    if moved is None:
        return []
    return [Fix("Move the clipping just before the optimizer step", FixSafety.UNSAFE, moved)]


def _unscaled_before(analysis: TrainingSteps, step: StepEvent, clip: StepEvent) -> bool:
    region = analysis.region_of(step, analysis.facts.enclosing_scope(step.statement))
    return any(
        e.kind is EventKind.UNSCALE and is_before(e.statement, step.statement) and e is not clip
        for e in analysis.region_events(region)
    )


RULE = Rule(
    code="GG505",
    name="clip-outside-backward-step",
    summary="Gradient clipping before the backward or after the optimizer step has no effect",
    severity=Severity.WARNING,
    fix_availability=FixAvailability.SOMETIMES,
    doc=__doc__ or "",
    check_function=check,
    example_outcome=Silent(check="assert norm == 0 and update > 1"),
    use_instead_check="assert norm > 50 and abs(update - 0.1) < 1e-4",
    required_words=("clip_grad",),
)
