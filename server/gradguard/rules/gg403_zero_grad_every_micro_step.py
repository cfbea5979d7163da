"""## What it does
Checks for gradient-accumulation loops whose optimizer `step()` runs only under an
accumulation condition (`if (i + 1) % k == 0:`, `if step % accum_steps == 0:`,
`if accelerator.sync_gradients:`) while the gradients are cleared unconditionally in
every iteration (`optimizer.zero_grad()`, `model.zero_grad()`, a `p.grad = None` loop);
for a clearing inside an inner micro-step loop (`for micro_step in range(k):`) whose
step runs once after that loop; and for a module's `model.zero_grad()` inside
Accelerate's `with accelerator.accumulate(model):` block. It is reported at the clearing.

The loop is the innermost loop around the step that also runs a backward, including
same-file helpers it calls. Not reported: a clearing under the same condition as the
step or right after it, `if i % k == 0: optimizer.zero_grad()` at the top, a loop whose
backward also runs only under the condition, and the optimizer's own `zero_grad()`
inside `accelerator.accumulate(model)` (the prepared optimizer skips it until the sync
step).

## Why is this bad?
Gradient accumulation sums the gradients of k micro-batches before one optimizer step,
to train with an effective batch k times larger. Clearing the gradients in every
iteration throws away all but the last micro-batch: the step sees one micro-batch's
gradient, still divided by k, so the effective batch is the micro-batch and the
effective learning rate is `lr / k`. Accelerate's `accumulate()` makes the prepared
optimizer's `zero_grad()` a no-op between sync steps, but not a module's `zero_grad()`.

## What PyTorch does
Nothing warns. Measured on torch 2.13.0 (K=4 micro-batches): the weight gradient at the
step is exactly the last micro-batch's, [0.19367, -0.21608, -0.06775], instead of the
sum of the four, [1.23441, -0.31335, -0.77593] (which equals the full-batch gradient).
Inside `accelerator.accumulate(model)`, `optimizer.step(); model.zero_grad()` also left
only the last micro-batch's gradient at the real step.

## Example
```python
import copy

import torch
from torch import nn

model = nn.Linear(3, 1)
reference = copy.deepcopy(model)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
batches = [(torch.randn(8, 3), torch.randn(8, 1)) for _ in range(4)]
accumulation_steps = 4

for i, (x, y) in enumerate(batches):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y) / accumulation_steps
    loss.backward()
    if (i + 1) % accumulation_steps == 0:
        grad_at_step = model.weight.grad.clone()
        optimizer.step()
```

## Use instead
```python
import copy

import torch
from torch import nn

model = nn.Linear(3, 1)
reference = copy.deepcopy(model)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
batches = [(torch.randn(8, 3), torch.randn(8, 1)) for _ in range(4)]
accumulation_steps = 4

for i, (x, y) in enumerate(batches):
    loss = nn.functional.mse_loss(model(x), y) / accumulation_steps
    loss.backward()
    if (i + 1) % accumulation_steps == 0:
        grad_at_step = model.weight.grad.clone()
        optimizer.step()
        optimizer.zero_grad()
```

## Fix safety
The fix moves the clearing to just after the optimizer step, under its condition. It is
unsafe: the first accumulation window now also adds any gradients left from before the
loop, and code between the two places that reads `.grad` sees other values. It is
offered only when both calls are statements on their own lines in the loop itself, and
not for the micro-step loop (where the clearing belongs depends on the outer loop). For
Accelerate, the fix calls the prepared optimizer's `zero_grad()` instead (unsafe too).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradguard.analysis.edits import move_statement
from gradguard.analysis.flow import dotted_name
from gradguard.findings import Finding, Fix, FixSafety, RelatedLocation, Severity
from gradguard.rules.base import FixAvailability, Rule, RuleContext, Silent
from gradguard.semantic import step_fixes
from gradguard.semantic.step_events import EventKind, Guard, StepEvent
from gradguard.semantic.step_queries import (
    accumulation_guard,
    clears_optimizer,
    describe,
    mutually_exclusive,
    same_guard,
)
from gradguard.semantic.steps import TrainingSteps, training_steps


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    analysis = training_steps(context.facts, context.optimizers)
    reported: set[ast.AST] = set()
    for step, scope in analysis.steps():
        region = analysis.region_of(step, scope)
        events = analysis.region_events(region)
        me = next((e for e in events if e.call is step.call), None)
        if me is None:
            continue
        for finding, clear in _findings(rule, context, analysis, events, me):
            if clear.call not in reported:
                reported.add(clear.call)
                yield finding


def _findings(
    rule: Rule,
    context: RuleContext,
    analysis: TrainingSteps,
    events: list[StepEvent],
    me: StepEvent,
) -> Iterator[tuple[Finding, StepEvent]]:
    guard = accumulation_guard(me)
    if guard is not None:
        feeding = _feeding(events, me)
        backwards = [e for e in feeding if e.kind is EventKind.BACKWARD and not _under(e, guard)]
        if backwards:
            for clear in _every_iteration_clears(analysis, events, me):
                if not _under(clear, guard):
                    yield _finding(rule, context, clear, me, guard, backwards[0]), clear
        return
    yield from _micro_loop_findings(rule, context, analysis, events, me)
    accumulate = _accumulate_context(analysis, me)
    if accumulate is None:
        return
    for clear in events:
        if (
            clear.kind is EventKind.CLEAR
            and not clear.on_optimizer
            and clear.target is not None
            and not clear.guards
            and accumulate in clear.contexts
        ):
            yield _accelerate_finding(rule, context, clear, me, accumulate), clear


def _micro_loop_findings(
    rule: Rule,
    context: RuleContext,
    analysis: TrainingSteps,
    events: list[StepEvent],
    me: StepEvent,
) -> Iterator[tuple[Finding, StepEvent]]:
    """``for micro_step in range(k): zero_grad(); backward()`` and the step after that
    inner loop (nanoGPT's shape): each micro-step clears what the previous one added."""
    feeding = _feeding(events, me)
    for clear in _every_iteration_clears(analysis, [*feeding, me], me, inner_loops=True):
        loops = [g for g in clear.guards if g.part == "loop"]
        if len(loops) != 1 or any(g.owner is loops[0].owner for g in me.guards):
            continue
        inner = loops[0]
        after = [
            e
            for e in feeding[feeding.index(clear) + 1 :]
            if e.kind is EventKind.BACKWARD and e.guards[: len(clear.guards)] == clear.guards
        ]
        if after:
            loop = inner.owner
            message = (
                f"{_clear_text(context, clear)} clears the gradients on every pass of the loop "
                f"on line {getattr(loop, 'lineno', '?')}, but "
                f"{describe(context.source.node_text(me.call), '`step()`')} runs once after it: "
                f"each {describe(context.source.node_text(after[0].call), '`backward()`')} but "
                "the last is thrown away, so the step sees one micro-batch's gradient instead "
                "of their sum"
            )
            related = [RelatedLocation(context.source.span_of(me.node), "the accumulated step")]
            yield rule.finding(context, clear.node, message, related=related), clear


def _feeding(events: list[StepEvent], step: StepEvent) -> list[StepEvent]:
    """The events since the previous step of another optimizer, up to ``step``: a GAN
    loop's discriminator backward feeds the discriminator's step, not the generator's."""
    index = events.index(step)
    start = 0
    for position in range(index):
        event = events[position]
        if event.kind is EventKind.STEP and event.target != step.target:
            start = position + 1
    return events[start:index]


def _under(event: StepEvent, guard: Guard) -> bool:
    return any(same_guard(g, guard) for g in event.guards)


def _every_iteration_clears(
    analysis: TrainingSteps, events: list[StepEvent], step: StepEvent, *, inner_loops: bool = False
) -> Iterator[StepEvent]:
    """Clearings of the step's gradients that run in every iteration (in no ``if``,
    inner loop or handler of the iteration; inner loops allowed with ``inner_loops``)."""
    stepped = {e.target for e in events if e.kind is EventKind.STEP}
    for event in events:
        if event.kind is not EventKind.CLEAR or mutually_exclusive(event, step):
            continue
        if any(g.part != "loop" or not inner_loops for g in event.guards):
            continue
        covered = clears_optimizer(analysis, event, step.target or "")
        if covered or (covered is None and event.target is not None and len(stepped) == 1):
            yield event


def _accumulate_context(analysis: TrainingSteps, step: StepEvent) -> ast.expr | None:
    for context in step.contexts:
        func = getattr(context, "func", None)
        if isinstance(func, ast.Attribute) and func.attr == "accumulate":
            receiver = dotted_name(func.value)
            if receiver and analysis.roles.is_accelerator(receiver):
                return context
    return None


def _finding(
    rule: Rule,
    context: RuleContext,
    clear: StepEvent,
    step: StepEvent,
    guard: Guard,
    backward: StepEvent,
) -> Finding:
    source = context.source
    condition = describe(source.node_text(guard.test), "its condition") if guard.test else ""
    message = (
        f"{_clear_text(context, clear)} clears the gradients in every iteration, but "
        f"{describe(source.node_text(step.call), '`step()`')} runs only when {condition}: "
        f"each {describe(source.node_text(backward.call), '`backward()`')} of the window but the "
        "last is thrown away, so the step sees one micro-batch's gradient (still divided by "
        "the accumulation factor) instead of their sum"
    )
    related = [RelatedLocation(source.span_of(step.node), "the accumulated step")]
    fix = _move_fix(context, clear, step)
    return rule.finding(context, clear.node, message, related=related, fixes=[fix] if fix else [])


def _accelerate_finding(
    rule: Rule, context: RuleContext, clear: StepEvent, step: StepEvent, accumulate: ast.expr
) -> Finding:
    source = context.source
    message = (
        f"{_clear_text(context, clear)} inside "
        f"{describe(source.node_text(accumulate), 'the accumulate block')} "
        "clears the module's gradients on every micro-step: Accelerate skips only the "
        "prepared optimizer's `zero_grad()` between sync steps, so the real step sees the "
        f"last micro-batch's gradient; use `{step.target}.zero_grad()`"
    )
    fixes: list[Fix] = []
    statement = step_fixes.own_statement(source, clear)
    if statement is not None and step.target:
        edit = source.replace(clear.call, f"{step.target}.zero_grad()")
        fixes.append(Fix(f"Use `{step.target}.zero_grad()`", FixSafety.UNSAFE, (edit,)))
    related = [RelatedLocation(source.span_of(step.node), "the prepared optimizer's step")]
    return rule.finding(context, clear.node, message, related=related, fixes=fixes)


def _clear_text(context: RuleContext, clear: StepEvent) -> str:
    node = clear.node
    if isinstance(node, (ast.For, ast.AsyncFor)):
        return "The loop over " + describe(context.source.node_text(node.iter), "the parameters")
    return describe(context.source.node_text(node), "The gradient clearing")


def _move_fix(context: RuleContext, clear: StepEvent, step: StepEvent) -> Fix | None:
    source = context.source
    statement = step_fixes.own_statement(source, clear)
    anchor = step_fixes.own_statement(source, step)
    if statement is None or anchor is None:
        return None
    edits = move_statement(source, statement, after=anchor)
    if edits is None:
        return None
    return Fix(f"Move `{source.node_text(clear.call)}` after the step", FixSafety.UNSAFE, edits)


# The gradient ``reference`` (the model before the loop) gets from some micro-batches.
_GRAD_OF = """
def grad_of(chosen):
    copy_ = copy.deepcopy(reference)
    for x, y in chosen:
        (nn.functional.mse_loss(copy_(x), y) / accumulation_steps).backward()
    return copy_.weight.grad
"""

RULE = Rule(
    code="GG403",
    name="zero-grad-every-micro-step",
    summary="Gradient accumulation defeated: gradients cleared on every micro-step",
    severity=Severity.WARNING,
    fix_availability=FixAvailability.SOMETIMES,
    doc=__doc__ or "",
    check_function=check,
    example_outcome=Silent(
        check=_GRAD_OF
        + "assert torch.allclose(grad_at_step, grad_of(batches[-1:]))\n"
        + "assert not torch.allclose(grad_at_step, grad_of(batches))"
    ),
    use_instead_check=_GRAD_OF + "assert torch.allclose(grad_at_step, grad_of(batches))",
    required_words=("zero_grad", ".grad"),
)
