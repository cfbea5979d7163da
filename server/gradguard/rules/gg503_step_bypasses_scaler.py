"""## What it does
Checks for training iterations that call `scaler.scale(loss).backward()` with a
`GradScaler` and then step the optimizer directly with `optimizer.step()` instead of
`scaler.step(optimizer)`, and for iterations that call both `scaler.step(optimizer)` and a
bare `optimizer.step()` (the optimizer steps twice).

The iteration is the body of the innermost loop around the step that also runs a
backward (or the function, for one step per call), including same-file helpers it calls
(`train_one_epoch(...)`, `self.backward_step(loss)`). A scaler is a name the file binds
to `torch.amp.GradScaler`, `torch.cuda.amp.GradScaler` or `torch.GradScaler` (also as
`self.scaler` in a trainer), or a name spelled like one (`scaler`, `grad_scaler`) that
the file does not bind to something else. Not reported: a step in the other branch of
the condition that chooses AMP (`if args.amp: ... else: optimizer.step()`, also across
two `if` statements with the same test), a scaler built with `enabled=False`, a step
that may belong to another backward that is not scaled, and `optimizer.step(closure)`.

## Why is this bad?
`scaler.scale(loss)` multiplies the loss, and so every gradient, by the scale factor
(65536 by default). Only `scaler.step(optimizer)` divides the gradients back and skips
the step when they hold inf or NaN. A bare `optimizer.step()` applies the scaled
gradients: with SGD the update is 65536 times too large, with Adam the update size
survives but its moment estimates are built from gradients 65536 times too large, and
inf/NaN gradients from an fp16 overflow are written into the weights. A bare step in
addition to `scaler.step` makes two updates per iteration.

## What PyTorch does
Nothing warns. Measured on torch 2.13.0 (SGD, lr 0.1): in the example below the update
norm is 8442.6 instead of 0.1288 through `scaler.step`, exactly 65536 times too large;
with NaN gradients every weight becomes `nan` (through `scaler.step` the weights stay
unchanged and the scale halves). If the loop also calls `scaler.update()` after a bare
step, it raises `AssertionError: No inf checks were recorded prior to update.` A bare
`optimizer.step()` after `scaler.step(optimizer); scaler.update()` steps again with the
unscaled gradients: 12 optimizer steps for 6 iterations.

## Example
```python
import torch
from torch import nn

model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
scaler = torch.amp.GradScaler("cpu")
x, y = torch.randn(16, 4), torch.randn(16, 1)
before = [p.detach().clone() for p in model.parameters()]

for step in range(1):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    scaler.scale(loss).backward()
    optimizer.step()

update = torch.cat([(p - b).flatten() for p, b in zip(model.parameters(), before)]).norm()
```

## Use instead
```python
import torch
from torch import nn

model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
scaler = torch.amp.GradScaler("cpu")
x, y = torch.randn(16, 4), torch.randn(16, 1)
before = [p.detach().clone() for p in model.parameters()]

for step in range(1):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()

update = torch.cat([(p - b).flatten() for p, b in zip(model.parameters(), before)]).norm()
```

## Fix safety
For a bare step, the fix replaces `optimizer.step()` with `scaler.step(optimizer)` and,
when the iteration has no `scaler.update()`, adds one on the next line. For a double
step, it removes the extra `optimizer.step()`. Both are safe: the update is what the
scaler was meant to produce. They are offered only when the call is a statement on its
own line in the loop itself (not in a helper).
"""

from __future__ import annotations

from collections.abc import Iterator

from gradguard.findings import Finding, Fix, FixSafety, RelatedLocation, Severity
from gradguard.rules.base import FixAvailability, Rule, RuleContext, Silent
from gradguard.semantic import step_fixes
from gradguard.semantic.step_events import EventKind, StepEvent
from gradguard.semantic.step_queries import describe, mutually_exclusive
from gradguard.semantic.steps import TrainingSteps, training_steps


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    analysis = training_steps(context.facts, context.optimizers)
    for step, scope in analysis.steps():
        if step.scaler is None and not step.via_helper and _is_bare(step):
            finding = _check_step(rule, context, analysis, step, scope)
            if finding is not None:
                yield finding


def _is_bare(step: StepEvent) -> bool:
    call = step.call
    return not getattr(call, "args", None) and not getattr(call, "keywords", None)


def _check_step(
    rule: Rule, context: RuleContext, analysis: TrainingSteps, step: StepEvent, scope
) -> Finding | None:
    events = analysis.region_events(analysis.region_of(step, scope))
    me = next((e for e in events if e.call is step.call), None)
    if me is None:
        return None
    together = [e for e in events if e is not me and not mutually_exclusive(e, me)]
    scaled = [e for e in together if e.kind is EventKind.BACKWARD and e.scaler]
    if not scaled:
        return None
    scaler = scaled[0].scaler or ""
    info = analysis.roles.scaler(scaler)
    if info is None or info.enabled is False:
        return None
    scaler_steps = [
        e for e in together if e.kind is EventKind.STEP and e.scaler and e.target == me.target
    ]
    source = context.source
    step_text = describe(source.node_text(me.call), "`step()`")
    if scaler_steps:
        message = (
            f"{step_text} steps `{me.target}` a second time in this iteration, after "
            f"{describe(source.node_text(scaler_steps[0].call), '`scaler.step()`')}: every "
            "iteration makes two updates (measured: 12 optimizer steps for 6 iterations)"
        )
        related = [RelatedLocation(source.span_of(scaler_steps[0].node), "the scaler's step")]
        return rule.finding(
            context, me.call, message, related=related, fixes=_removal(analysis, context, me)
        )
    if any(e.kind is EventKind.BACKWARD and not e.scaler for e in together):
        return None  # the step may belong to the backward that is not scaled
    backward_text = describe(source.node_text(scaled[0].call), "the scaled backward")
    message = (
        f"{step_text} bypasses `{scaler}`: the gradients of {backward_text} are still "
        f"multiplied by the scale (65536 by default), so SGD's update is that many times too "
        "large (Adam's moment estimates absorb it squared), inf/NaN gradients are written "
        f"into the weights, and a later `{scaler}.update()` raises `AssertionError: No inf "
        f"checks were recorded prior to update.`; use `{scaler}.step({me.target})`"
    )
    related = [RelatedLocation(source.span_of(scaled[0].node), "gradients scaled here")]
    needs_update = not any(
        e.kind is EventKind.SCALER_UPDATE and e.scaler == scaler for e in together
    )
    fixes = _replacement(context, me, scaler, needs_update)
    return rule.finding(context, me.call, message, related=related, fixes=fixes)


def _replacement(
    context: RuleContext, step: StepEvent, scaler: str, needs_update: bool
) -> list[Fix]:
    source = context.source
    statement = step_fixes.own_statement(source, step)
    if statement is None or step.target is None:
        return []
    edits = [source.replace(step.call, f"{scaler}.step({step.target})")]
    title = f"Replace with `{scaler}.step({step.target})`"
    if needs_update:
        update = step_fixes.insert_after(source, statement, f"{scaler}.update()")
        if update is None:
            return []
        edits.append(update)
        title += f" and `{scaler}.update()`"
    return [Fix(title, FixSafety.SAFE, tuple(edits))]


def _removal(analysis: TrainingSteps, context: RuleContext, step: StepEvent) -> list[Fix]:
    statement = step_fixes.own_statement(context.source, step)
    if statement is None:
        return []
    edit = step_fixes.remove(context.source, statement, analysis.block_of(statement))
    if edit is None:
        return []
    return [Fix(f"Remove the extra `{step.target}.step()`", FixSafety.SAFE, (edit,))]


RULE = Rule(
    code="GG503",
    name="step-bypasses-scaler",
    summary="`optimizer.step()` called directly in a loop that scales the loss with a GradScaler",
    severity=Severity.ERROR,
    fix_availability=FixAvailability.SOMETIMES,
    doc=__doc__ or "",
    check_function=check,
    example_outcome=Silent(check="assert 8000 < update < 9000"),
    use_instead_check="assert 0.1 < update < 0.2",
    required_words=("scale",),
)
