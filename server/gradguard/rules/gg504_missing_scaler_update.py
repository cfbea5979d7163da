"""## What it does
Checks the `GradScaler` calls of each training iteration:

- `scaler.step(optimizer)` in a loop that never calls `scaler.update()`;
- a `scaler.update()` that runs only on some paths (under an `if` that the
  `scaler.step(...)` or `scaler.unscale_(...)` of the iteration is not under);
- `scaler.unscale_(optimizer)` called twice for the same optimizer in one iteration,
  with no `update()` between.

The iteration is the body of the innermost loop around the call that also runs a
backward, including same-file helpers it calls (`self.optimizer_step()`). A missing
`update()` is reported only when the file calls `<scaler>.update` nowhere else (a hook or
callback might) but in other training functions of the file (their own scaled backward),
or only after the loop; for a function with no such loop (one step per
call), only when the file never calls it. A scaler is a name the file binds to
`torch.amp.GradScaler`, `torch.cuda.amp.GradScaler` or `torch.GradScaler`, or one
spelled like a scaler that the file binds to nothing else. Not reported: a scaler built
with `enabled=False` (a disabled scaler checks nothing), an `update()` under the same
condition as the step (`if (i + 1) % k == 0:` in gradient accumulation, or two `if`
statements with the same test), and calls in the two branches of one `if`.

## Why is this bad?
The scaler keeps a per-optimizer state that only `update()` resets: after a
`scaler.step(optimizer)`, the next `step()` or `unscale_()` for that optimizer fails
until `update()` runs. `update()` is also what adapts the scale (halving it after an
overflow, doubling it after 2,000 clean steps). When `update()` is skipped on some
iterations (only after a successful step, say), the next iteration fails.

## What PyTorch does
Measured on torch 2.13.0 with an enabled scaler: the first iteration runs, the second
raises `RuntimeError: step() has already been called since the last update().`; with
`unscale_` in the loop it raises `RuntimeError: unscale_() is being called after step().`
A second `unscale_(optimizer)` in one iteration raises `RuntimeError: unscale_() has
already been called on this optimizer since the last update().` A disabled scaler
(`enabled=False`, or the default CUDA scaler on a machine without CUDA) makes none of
these checks, so the bug only shows when AMP is on.

## Example
```python
import torch
from torch import nn

model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
scaler = torch.amp.GradScaler("cpu")
x, y = torch.randn(16, 4), torch.randn(16, 1)

for step in range(2):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
```

## Use instead
```python
import torch
from torch import nn

model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
scaler = torch.amp.GradScaler("cpu")
x, y = torch.randn(16, 4), torch.randn(16, 1)

for step in range(2):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
```

## Fix safety
For a missing `update()`, the fix inserts `scaler.update()` on the line after the
`scaler.step(...)` call; for a second `unscale_()`, it removes that call (the gradients
are already unscaled). Both are safe: the scaler then runs as documented. They are
offered only when the call is a statement on its own line in the loop itself. An
`update()` that runs on only some paths gets no fix: where it should move depends on
the code around it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradguard.analysis.flow import dotted_name
from gradguard.findings import Finding, Fix, FixSafety, RelatedLocation, Severity
from gradguard.rules.base import FixAvailability, Raises, Rule, RuleContext
from gradguard.semantic import step_fixes
from gradguard.semantic.reads import ReadLog
from gradguard.semantic.step_events import EventKind, Guard, StepEvent
from gradguard.semantic.step_queries import describe, mutually_exclusive, same_guard
from gradguard.semantic.steps import TrainingSteps, training_steps

_STATEFUL = (EventKind.STEP, EventKind.UNSCALE)


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    analysis = training_steps(context.facts, context.optimizers)
    seen: set[ast.AST] = set()
    for method in ("step", "unscale_"):
        for event, scope in analysis.direct_events(method):
            if event.kind not in _STATEFUL or not event.scaler:
                continue
            info = analysis.roles.scaler(event.scaler)
            if info is None or info.enabled is False:
                continue
            region = analysis.region_of(event, scope)
            key = (region, event.scaler)
            if key in seen:
                continue
            seen.add(key)  # type: ignore[arg-type]
            yield from _check_region(rule, context, analysis, region, event.scaler)


def _check_region(
    rule: Rule, context: RuleContext, analysis: TrainingSteps, region: ast.AST, scaler: str
) -> Iterator[Finding]:
    events = analysis.region_events(region)
    mine = [e for e in events if e.scaler == scaler and e.kind is not EventKind.BACKWARD]
    updates = [e for e in mine if e.kind is EventKind.SCALER_UPDATE]
    steps = [e for e in mine if e.kind is EventKind.STEP]
    yield from _twice_unscaled(rule, context, analysis, mine)
    if not updates:
        if steps and _update_surely_missing(analysis, region, scaler, events):
            yield _missing(rule, context, steps[0], scaler)
        return
    for stateful in (e for e in mine if e.kind in _STATEFUL):
        if not any(_covers(u, stateful) for u in updates):
            guard = next(g for g in updates[0].guards if not _covered(g, stateful.guards))
            yield _partial(rule, context, updates[0], stateful, guard, scaler)
            return


def _covers(update: StepEvent, stateful: StepEvent) -> bool:
    """The update runs whenever ``stateful`` does: each block it is in holds ``stateful``
    too (the same ``if`` block, or one with the same test)."""
    return not mutually_exclusive(update, stateful) and all(
        _covered(g, stateful.guards) for g in update.guards
    )


def _update_surely_missing(
    analysis: TrainingSteps, region: ast.AST, scaler: str, events: list[StepEvent]
) -> bool:
    """No ``update()`` in the iteration, and none elsewhere in the file that could run
    between two iterations (a callback, a hook, the caller of a one-step function); an
    ``update()`` after the loop in the same function does not count."""
    if any(e.kind is EventKind.OPAQUE for e in events):
        return False
    stepping = {
        analysis.facts.enclosing_scope(e.call)
        for method in ("step", "backward")
        for e, _ in analysis.direct_events(method)
        if e.scaler == scaler
    }
    reads = ReadLog.of(analysis.facts)
    if reads is not None:  # an update() anywhere in the file (the editor's dependencies)
        reads.scan(r"\.\s*update\b")
    updates = [
        n
        for n in analysis.facts.nodes_of(ast.Attribute)
        if isinstance(n, ast.Attribute)
        and n.attr == "update"
        and dotted_name(n.value) == scaler
        # Another training routine with its own steps updates after those, not these.
        and (analysis.facts.enclosing_scope(n) not in stepping or _near(analysis, n, region))
    ]
    if not isinstance(region, (ast.For, ast.AsyncFor, ast.While)):
        return not updates
    scope = analysis.facts.enclosing_scope(region)
    return all(
        analysis.facts.enclosing_scope(n) is scope and n.lineno > (region.end_lineno or 0)
        for n in updates
    )


def _near(analysis: TrainingSteps, node: ast.AST, region: ast.AST) -> bool:
    """``node`` is in the same function as ``region``."""
    return analysis.facts.enclosing_scope(node) is analysis.facts.enclosing_scope(region)


def _covered(guard: Guard, guards: tuple[Guard, ...]) -> bool:
    return any(same_guard(guard, other) for other in guards)


def _twice_unscaled(
    rule: Rule, context: RuleContext, analysis: TrainingSteps, mine: list[StepEvent]
) -> Iterator[Finding]:
    earlier: list[StepEvent] = []
    for event in mine:
        if event.kind is EventKind.SCALER_UPDATE:
            earlier = []
        elif event.kind is EventKind.UNSCALE:
            first = next(
                (
                    e
                    for e in earlier
                    if e.target == event.target and e.target and not mutually_exclusive(e, event)
                ),
                None,
            )
            if first is not None:
                yield _second_unscale(rule, context, analysis, first, event)
            earlier.append(event)


def _missing(rule: Rule, context: RuleContext, step: StepEvent, scaler: str) -> Finding:
    source = context.source
    message = (
        f"{describe(source.node_text(step.call), '`scaler.step()`')} runs, but "
        f"`{scaler}.update()` is never called: the next step raises `RuntimeError: step() "
        "has already been called since the last update().` (or `unscale_() is being called "
        "after step().`), and the scale never adapts"
    )
    fixes: list[Fix] = []
    statement = step_fixes.own_statement(source, step)
    if statement is not None:
        edit = step_fixes.insert_after(source, statement, f"{scaler}.update()")
        if edit is not None:
            fixes.append(Fix(f"Insert `{scaler}.update()` after the step", FixSafety.SAFE, (edit,)))
    return rule.finding(context, step.node, message, fixes=fixes)


def _partial(
    rule: Rule,
    context: RuleContext,
    update: StepEvent,
    stateful: StepEvent,
    guard: Guard,
    scaler: str,
) -> Finding:
    source = context.source
    condition = describe(source.node_text(guard.test), "a condition") if guard.test else None
    when = (
        f"only when {condition} is {'true' if guard.when else 'false'}"
        if condition
        else ("only on some paths")
    )
    stateful_text = describe(source.node_text(stateful.call), "the scaler call")
    error = (
        "unscale_() has already been called on this optimizer since the last update()."
        if stateful.kind is EventKind.UNSCALE
        else "step() has already been called since the last update()."
    )
    message = (
        f"`{scaler}.update()` runs {when}, but {stateful_text} runs on the other paths too: "
        f"after an iteration that skips the update, the next one raises `RuntimeError: {error}`"
    )
    related = [RelatedLocation(source.span_of(stateful.node), "runs without the update")]
    return rule.finding(context, update.node, message, related=related)


def _second_unscale(
    rule: Rule, context: RuleContext, analysis: TrainingSteps, first: StepEvent, second: StepEvent
) -> Finding:
    source = context.source
    message = (
        f"{describe(source.node_text(second.call), '`unscale_()`')} unscales `{second.target}` "
        "a second time since the last `update()`: it raises `RuntimeError: unscale_() has "
        "already been called on this optimizer since the last update().`"
    )
    related = [RelatedLocation(source.span_of(first.node), "first unscaled here")]
    fixes: list[Fix] = []
    statement = step_fixes.own_statement(source, second)
    if statement is not None:
        edit = step_fixes.remove(source, statement, analysis.block_of(statement))
        if edit is not None:
            fixes.append(Fix("Remove the second `unscale_()`", FixSafety.SAFE, (edit,)))
    return rule.finding(context, second.node, message, related=related, fixes=fixes)


RULE = Rule(
    code="GG504",
    name="missing-scaler-update",
    summary="`scaler.step()` without `scaler.update()` on every path, or `unscale_()` twice",
    severity=Severity.ERROR,
    fix_availability=FixAvailability.SOMETIMES,
    doc=__doc__ or "",
    check_function=check,
    example_outcome=Raises(
        "RuntimeError", "step() has already been called since the last update()."
    ),
    required_words=("scale",),
)
