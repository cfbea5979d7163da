"""## What it does
Checks for training iterations in which the gradients are cleared after `backward()`
and before the optimizer's `step()` (`loss.backward(); optimizer.zero_grad();
optimizer.step()`), and for a `step()` that runs right after the gradients were cleared
and before any `backward()` of its iteration (`optimizer.zero_grad(); optimizer.step();
loss.backward()`).

Clearing means `optimizer.zero_grad()` on the same optimizer, `model.zero_grad()` on the
model that optimizer trains, a `for p in model.parameters(): p.grad = None` loop, or a
same-file helper that does one of these. An optimizer step is `<opt>.step()` on a name
the file binds to an optimizer, `scaler.step(<opt>)`, or, when the file cannot tell what
the name is, `.step()` on a name spelled like an optimizer (`optimizer`, `opt`, `optim`,
`opt_g`, `d_optimizer`, ...). `scheduler.step()` and `optimizer.step(closure)` are not
optimizer steps here. `scaler.scale(loss).backward()` is a backward.

The iteration is the body of the innermost loop around the `step()` that also runs a
backward, or the enclosing function (one training step per call) or script. The rule
stays silent when something between the clearing and the step may run a backward
(a conditional backward, a helper it cannot follow), when the clearing is conditional,
and for the valid orders: `zero_grad(); backward(); step()`, `backward(); step();
zero_grad()`, and `step(); zero_grad(); backward()` (the step uses the previous
iteration's gradients, as in gradient accumulation).

## Why is this bad?
The optimizer updates parameters from their `.grad`. Clearing the gradients between
`backward()` and `step()` throws away what `backward()` just computed, so the step has
nothing to apply. Nothing fails: the loss simply never goes down.

## What PyTorch does
`zero_grad()` sets every `.grad` to `None` by default (`set_to_none=True`), and `step()`
skips parameters whose `.grad` is `None`: the parameters are not updated at all, silently.
The same happens when `step()` runs before the iteration's `backward()` right after the
gradients were cleared. With `zero_grad(set_to_none=False)` the step sees all-zero
gradients instead, and the gradients of `backward()` are never applied either.

## Example
```python
import torch
from torch import nn

model = nn.Linear(3, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(8, 3), torch.randn(8, 1)
initial = model.weight.detach().clone()

for step in range(2):
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
```

## Use instead
```python
import torch
from torch import nn

model = nn.Linear(3, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(8, 3), torch.randn(8, 1)
initial = model.weight.detach().clone()

for step in range(2):
    loss = nn.functional.mse_loss(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
```

## Fix safety
The fix moves the `zero_grad()` statement to just before the backward call (for a step
that runs before the backward, just before that backward, so the step uses the previous
iteration's gradients). It is unsafe: code between the old and the new place that reads
`.grad` (clipping, logging) now sees the fresh gradients, and the parameters start to
change. It is offered only when the `zero_grad()` call and the backward are statements of
the same block, each on its own line.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from gradguard.findings import (
    Finding,
    Fix,
    FixSafety,
    Position,
    RelatedLocation,
    Severity,
    Span,
    TextEdit,
)
from gradguard.rules.base import FixAvailability, Rule, RuleContext, Silent
from gradguard.semantic.step_events import EventKind, GradEvent
from gradguard.semantic.step_queries import binds_name, clears_optimizer, describe, starts_its_line
from gradguard.semantic.steps import Occurrence, TrainingSteps, training_steps
from gradguard.source import SourceFile

# What this rule orders: the other events of a step (clipping, the scheduler) neither
# produce nor clear gradients.
_GRADIENT_EVENTS = frozenset(
    {EventKind.BACKWARD, EventKind.STEP, EventKind.CLEAR, EventKind.OPAQUE}
)


@dataclass(frozen=True)
class _Misordering:
    step: GradEvent
    clear: GradEvent
    # The backward calls that the clearing undoes, earliest last (reverse order).
    backwards: tuple[GradEvent, ...]
    # True when the step runs before the iteration's backward (the clearing came first).
    step_first: bool


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    analysis = training_steps(context.facts, context.optimizers)
    for step, scope in analysis.steps():
        misordering = _misordering(analysis, step, scope)
        if misordering is not None:
            yield _finding(rule, context, analysis, misordering)


def _misordering(analysis: TrainingSteps, step: GradEvent, scope: ast.AST) -> _Misordering | None:
    region = analysis.iteration_loop(step.statement) or scope
    clear = _clearing_before(analysis, step, region)
    if clear is None:
        return None
    backwards: list[Occurrence] = []
    for occurrence in analysis.walk_back(clear.statement, region):
        event = occurrence.event
        if event.kind not in _GRADIENT_EVENTS:
            continue
        if event.kind is EventKind.BACKWARD:
            if backwards and backwards[-1].wrapped != occurrence.wrapped:
                break
            backwards.append(occurrence)
            continue
        if backwards:
            break
        if event.kind is EventKind.OPAQUE:
            return None
        if event.kind is EventKind.STEP and event.target in (step.target, None):
            return None  # zeroing after an earlier step: this step is only redundant
    if backwards:
        return _Misordering(
            step, clear, tuple(o.event for o in backwards), step_first=backwards[0].wrapped
        )
    # One step per call of a function: the backward comes after the step.
    later = [
        e
        for e in analysis.region_events(region)
        if e.kind is EventKind.BACKWARD and _after(e.statement, step.statement)
    ]
    if later and isinstance(region, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return _Misordering(step, clear, (later[0],), step_first=True)
    return None


def _clearing_before(analysis: TrainingSteps, step: GradEvent, region: ast.AST) -> GradEvent | None:
    """The clearing of the step's gradients that surely runs last before it, if nothing
    that might produce gradients runs in between."""
    for occurrence in analysis.walk_back(step.statement, region):
        event = occurrence.event
        if event.kind not in _GRADIENT_EVENTS:
            continue
        if event.kind in (EventKind.BACKWARD, EventKind.OPAQUE):
            return None
        if event.kind is EventKind.STEP:
            if event.target in (step.target, None):
                return None
            continue
        covered = clears_optimizer(analysis, event, step.target or "")
        if covered is None:
            return None
        if covered and occurrence.definite:
            return event
    return None


def _after(a: ast.stmt, b: ast.stmt) -> bool:
    return (a.lineno, a.col_offset) > (b.lineno, b.col_offset)


# -- the finding ----------------------------------------------------------------


def _finding(
    rule: Rule, context: RuleContext, analysis: TrainingSteps, found: _Misordering
) -> Finding:
    source = context.source
    clear_text = _describe_event(source, found.clear, "the gradient clearing")
    backward = found.backwards[-1]
    backward_text = _describe_event(source, backward, "`backward()`")
    step_text = _describe_event(source, found.step, "`step()`")
    if found.clear.set_to_none:
        outcome = "finds every `.grad` None and updates nothing"
    else:
        outcome = "sees all-zero gradients, so the gradients of backward() are never applied"
    if found.step_first:
        where: ast.AST | Span = found.step.node
        message = (
            f"{step_text} runs after {clear_text} cleared the gradients and before "
            f"{backward_text} of its iteration: it {outcome}"
        )
        related = [RelatedLocation(source.span_of(found.clear.node), "gradients cleared here")]
    else:
        where = _clear_span(source, found.clear)
        message = (
            f"{clear_text} clears the gradients computed by {backward_text} before "
            f"{step_text} uses them: the step {outcome}"
        )
        related = [RelatedLocation(source.span_of(found.step.node), "the step that sees them")]
    fix = _move_fix(analysis, source, found)
    return rule.finding(context, where, message, related=related, fixes=[fix] if fix else [])


def _describe_event(source: SourceFile, event: GradEvent, fallback: str) -> str:
    node = event.node
    if isinstance(node, (ast.For, ast.AsyncFor)):
        return "the loop over " + describe(source.node_text(node.iter), "the parameters")
    if isinstance(node, ast.stmt):
        return "the `.grad` assignment" if event.kind is EventKind.CLEAR else fallback
    return describe(source.node_text(node), fallback)


def _clear_span(source: SourceFile, clear: GradEvent) -> Span:
    """The clearing call, or the header of a clearing ``for`` loop."""
    node = clear.node
    span = source.span_of(node)
    if isinstance(node, (ast.For, ast.AsyncFor)):
        return Span(span.start, source.span_of(node.iter).end)
    return span


def _move_fix(analysis: TrainingSteps, source: SourceFile, found: _Misordering) -> Fix | None:
    """Move the ``zero_grad()`` statement to just before the (earliest) backward."""
    clear, backward = found.clear, found.backwards[-1]
    statement = clear.statement
    if clear.via_helper or not (isinstance(statement, ast.Expr) and statement.value is clear.node):
        return None
    block = analysis.block_of(statement)
    if block is None or not backward.definite or not any(s is backward.statement for s in block):
        return None
    clear_index = _index(block, statement)
    backward_index = _index(block, backward.statement)
    if found.step_first != (backward_index > clear_index):
        return None
    between = block[min(clear_index, backward_index) : max(clear_index, backward_index) + 1]
    root = (clear.target or "").split(".", 1)[0]
    if not root or binds_name([s for s in between if s is not statement], root):
        return None
    moved = _statement_text(source, statement)
    if moved is None or not starts_its_line(
        source.line_text(backward.statement.lineno - 1), backward.statement
    ):
        return None
    line = backward.statement.lineno - 1
    insertion = source.indentation_of(line) + moved + source.newline
    edits = (
        source.insert_at(Position(line, 0), insertion),
        _deletion(source, statement),
    )
    name = moved.split("#", 1)[0].strip()
    return Fix(
        f"Move `{name}` before line {line + 1}" if len(name) <= 40 else "Move the zero_grad() call",
        FixSafety.UNSAFE,
        edits,
    )


def _index(block: list[ast.stmt], stmt: ast.stmt) -> int:
    return next(i for i, s in enumerate(block) if s is stmt)


def _statement_text(source: SourceFile, statement: ast.stmt) -> str | None:
    """The statement's text plus a trailing comment, when it owns its lines."""
    first, last = statement.lineno - 1, (statement.end_lineno or statement.lineno) - 1
    if not starts_its_line(source.line_text(first), statement):
        return None
    end = source.span_of(statement).end
    rest = source.line_text(last)[end.column :].strip()
    if rest and not rest.startswith("#"):
        return None
    start = source.span_of(statement).start
    text = source.segment(source.whole_lines(first, last))
    text = text[start.column :].rstrip("\r\n")
    return text.rstrip()


def _deletion(source: SourceFile, statement: ast.stmt) -> TextEdit:
    return TextEdit(source.statement_lines(statement), "")


RULE = Rule(
    code="GG401",
    name="zero-grad-after-backward",
    summary="Gradients are cleared between `backward()` and the optimizer's `step()`",
    severity=Severity.WARNING,
    fix_availability=FixAvailability.SOMETIMES,
    doc=__doc__ or "",
    check_function=check,
    example_outcome=Silent(
        check="assert torch.equal(model.weight, initial) and model.weight.grad is None"
    ),
    use_instead_check="assert not torch.equal(model.weight, initial)",
)
