"""## What it does
Checks for a learning-rate scheduler's `step()` that runs before the optimizer's step
of the same iteration: `scheduler.step()` above `optimizer.step()` (or
`scaler.step(optimizer)`) in a batch loop, or at the top of an epoch loop before the
batch loop (or the `train_one_epoch(...)` helper) that steps the optimizer. It is
reported at the `scheduler.step()` call.

A scheduler is a name the file binds to a `torch.optim.lr_scheduler` class (also
`self.scheduler` in a trainer, and the `transformers` schedule factories, which return
a `LambdaLR`), or one spelled like a scheduler (`scheduler`, `lr_scheduler`, `sched`)
that the file binds to nothing else. When the file shows which optimizer the scheduler
was built on, only that optimizer's steps count. Not reported: a scheduler step after
an optimizer step of the iteration (per batch, or per epoch after the batch loop),
`ReduceLROnPlateau.step(metric)`, a `step(epoch)` given an explicit value (it sets the
schedule to that point), a step under a condition on the loop's counter (`if epoch > 0:`
at the top of the epoch stands for the previous epoch's step), schedulers of other
libraries or of the file's own classes that do not subclass torch's, and steps in the
other branch of an `if`.

## Why is this bad?
A torch scheduler sets the first learning rate of its schedule when it is built, and
each `scheduler.step()` moves to the next one. Stepping it before the optimizer's first
step skips the first value, and the whole schedule runs one step early: decays come one
step (or one epoch) too soon, a warm-up never uses its starting value, and a
`OneCycleLR` runs its last batch past the end of the schedule.

## What PyTorch does
Measured on torch 2.13.0: with `StepLR(step_size=2, gamma=0.1)`, the learning rates the
six optimizer steps of the example use are 1.0, 0.1, 0.1, 0.01, 0.01, 0.001 instead of
1.0, 1.0, 0.1, 0.1, 0.01, 0.01. `LambdaLR(lambda e: 0.5 ** e)` never uses its first value.
PyTorch warns (`Detected call of lr_scheduler.step() before optimizer.step()`) only on
the scheduler's first call, and not at all when the wrong order starts in a later
iteration; the warning also fires on correct AMP code whose first step was skipped, so
it is not evidence on its own.

## Example
```python
import torch
from torch import nn

model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.1)
x, y = torch.randn(16, 4), torch.randn(16, 1)
lrs = []

for step in range(6):
    optimizer.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    scheduler.step()
    lrs.append(optimizer.param_groups[0]["lr"])
    optimizer.step()
```

## Use instead
```python
import torch
from torch import nn

model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.1)
x, y = torch.randn(16, 4), torch.randn(16, 1)
lrs = []

for step in range(6):
    optimizer.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    lrs.append(optimizer.param_groups[0]["lr"])
    optimizer.step()
    scheduler.step()
```

## Fix safety
The fix moves the `scheduler.step()` statement to just after the statement of its block
that runs the optimizer step (the step itself, the batch loop, or the call of the
helper that trains one epoch). It is unsafe: code between the two places that reads the
learning rate (logging, a warm-up check) sees the other value, and on iterations that
leave early (`continue`) the scheduler no longer steps. It is offered only when the
scheduler call is a statement on its own line and its name is not rebound between.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradguard.analysis.edits import move_statement
from gradguard.findings import Finding, Fix, FixSafety, RelatedLocation, Severity
from gradguard.rules.base import FixAvailability, Rule, RuleContext, Silent
from gradguard.semantic import step_fixes
from gradguard.semantic.step_events import EventKind, StepEvent
from gradguard.semantic.step_queries import (
    binds_name,
    describe,
    is_accumulation_test,
    mutually_exclusive,
)
from gradguard.semantic.steps import TrainingSteps, training_steps


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    analysis = training_steps(context.facts, context.optimizers)
    for event, scope in analysis.direct_events("step"):
        scheduler = event.scheduler
        if event.kind is not EventKind.SCHEDULER_STEP or scheduler is None:
            continue
        if scheduler.plateau or not scheduler.torch_semantics or event.with_arguments:
            continue
        region = analysis.iteration_loop(event.statement, kind=EventKind.STEP) or scope
        events = analysis.region_events(region)
        me = next((e for e in events if e.call is event.call), None)
        if me is None:
            continue
        if _counted(region, me):
            continue  # ``if epoch > 0: scheduler.step()``: the previous epoch's step, moved
        index = events.index(me)
        optimizer = scheduler.optimizer
        if any(_steps(e, optimizer, me) for e in events[:index]):
            continue
        later = next((e for e in events[index + 1 :] if _steps(e, optimizer, me)), None)
        if later is not None:
            yield _finding(rule, context, analysis, me, later)


def _counted(region: ast.AST, event: StepEvent) -> bool:
    """The scheduler step runs under a condition on the loop's counter (``if epoch > 0``,
    ``if i >= warmup``): it may stand for the previous iteration's step, so the file does
    not show a shift."""
    target = getattr(region, "target", None)
    if target is None:
        return False
    counters = {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return any(
        guard.test is not None
        and not is_accumulation_test(guard.test)  # every k-th batch: still this iteration's
        and any(isinstance(n, ast.Name) and n.id in counters for n in ast.walk(guard.test))
        for guard in event.guards
    )


def _steps(event: StepEvent, optimizer: str | None, scheduler_step: StepEvent) -> bool:
    """An optimizer step of the scheduler's optimizer (any, when unknown) that can run
    in the same pass as the scheduler's step."""
    if event.kind is EventKind.OPAQUE:
        return True  # a helper we cannot follow may step
    if event.kind is not EventKind.STEP or mutually_exclusive(event, scheduler_step):
        return False
    return optimizer is None or event.target is None or event.target == optimizer


def _finding(
    rule: Rule, context: RuleContext, analysis: TrainingSteps, me: StepEvent, later: StepEvent
) -> Finding:
    source = context.source
    step_text = describe(source.node_text(later.call), "the optimizer's step")
    where = "later in this iteration"
    if any(g.part == "loop" for g in later.guards):
        where = "in the batch loop below"
    message = (
        f"{describe(source.node_text(me.call), '`scheduler.step()`')} runs before {step_text} "
        f"{where}: the schedule is shifted one step early (its first learning rate is "
        "skipped and every change comes one step too soon; StepLR(2, 0.1) uses 1.0, 0.1, "
        "0.1, 0.01 instead of 1.0, 1.0, 0.1, 0.1)"
    )
    related = [RelatedLocation(source.span_of(later.node), "the optimizer steps here")]
    fix = _move_fix(analysis, context, me, later)
    return rule.finding(context, me.call, message, related=related, fixes=[fix] if fix else [])


def _move_fix(
    analysis: TrainingSteps, context: RuleContext, me: StepEvent, later: StepEvent
) -> Fix | None:
    source = context.source
    statement = step_fixes.own_statement(source, me)
    block = analysis.block_of(statement) if statement is not None else None
    if statement is None or block is None:
        return None
    anchor = _holder_in(analysis, later.statement, block)
    if anchor is None or block.index(anchor) < block.index(statement):
        return None
    between = block[block.index(statement) + 1 : block.index(anchor) + 1]
    if binds_name(between, step_fixes.root_of(me.target or "")):
        return None
    edits = move_statement(source, statement, after=anchor)
    if edits is None:
        return None
    return Fix(
        f"Move `{source.node_text(me.call)}` after the optimizer step", FixSafety.UNSAFE, edits
    )


def _holder_in(analysis: TrainingSteps, stmt: ast.stmt, block: list[ast.stmt]) -> ast.stmt | None:
    """``stmt`` or the statement of ``block`` that contains it."""
    node: ast.AST | None = stmt
    while node is not None:
        if any(s is node for s in block):
            return node  # type: ignore[return-value]
        node = analysis.facts.parents.get(node)
    return None


RULE = Rule(
    code="GG501",
    name="scheduler-before-optimizer-step",
    summary="`scheduler.step()` runs before the optimizer's step: the schedule is shifted",
    severity=Severity.WARNING,
    fix_availability=FixAvailability.SOMETIMES,
    doc=__doc__ or "",
    check_function=check,
    example_outcome=Silent(
        check="assert [round(lr, 4) for lr in lrs] == [1.0, 0.1, 0.1, 0.01, 0.01, 0.001]"
    ),
    use_instead_check="assert [round(lr, 4) for lr in lrs] == [1.0, 1.0, 0.1, 0.1, 0.01, 0.01]",
    required_words=("step",),
)
