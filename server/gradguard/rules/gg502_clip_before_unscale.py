"""## What it does
Checks for gradient clipping (`torch.nn.utils.clip_grad_norm_`, `clip_grad_value_`,
`clip_grads_with_norm_`) after `scaler.scale(loss).backward()` with no
`scaler.unscale_(optimizer)` between the backward and the clip.

The iteration is the body of the innermost loop around the backward (or the function,
for one step per call), including same-file helpers it calls. A scaler is a name the
file binds to `torch.amp.GradScaler`, `torch.cuda.amp.GradScaler` or `torch.GradScaler`
(also `self.scaler` in a trainer), or one spelled like a scaler that the file binds to
nothing else. Not reported: clipping after `scaler.unscale_(optimizer)` (also in an
accumulation loop that unscales once before the step), a scaler built with
`enabled=False`, clipping in the other branch of the `if` that chooses AMP, and
Accelerate's `accelerator.clip_grad_norm_` (it unscales first).

## Why is this bad?
After `scaler.scale(loss).backward()` every gradient is multiplied by the scale (65536
by default). Clipping measures that scaled norm, so it cuts the gradients to about
`max_norm / scale`; `scaler.step` then divides by the scale again. With SGD every update
shrinks by that factor and training all but stops; with Adam, AdamW or RMSprop the
moment estimates are built from these tiny gradients, so the update is off by a smaller,
unpredictable amount. Nothing fails.

## What PyTorch does
Measured on torch 2.13.0 (SGD, lr 0.1, `max_norm=1.0`): in the example below
`clip_grad_norm_` returns 7087931.0 (the true norm is 108.15, times 65536) and the update
norm is 1.53e-06; with `scaler.unscale_(optimizer)` first it returns 108.15 and the
update norm is 0.1, exactly as without AMP. With AdamW in a minGPT-style trainer the
update was about 25% smaller and `exp_avg_sq` peaked at 1.1e-12 instead of 4.8e-3.

## Example
```python
import torch
from torch import nn

model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
scaler = torch.amp.GradScaler("cpu")
x, y = torch.randn(16, 4), 100 * torch.randn(16, 1)
before = [p.detach().clone() for p in model.parameters()]

for step in range(1):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    scaler.scale(loss).backward()
    norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    scaler.step(optimizer)
    scaler.update()

update = torch.cat([(p - b).flatten() for p, b in zip(model.parameters(), before)]).norm()
```

## Use instead
```python
import torch
from torch import nn

model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
scaler = torch.amp.GradScaler("cpu")
x, y = torch.randn(16, 4), 100 * torch.randn(16, 1)
before = [p.detach().clone() for p in model.parameters()]

for step in range(1):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    scaler.step(optimizer)
    scaler.update()

update = torch.cat([(p - b).flatten() for p, b in zip(model.parameters(), before)]).norm()
```

## Fix safety
The fix inserts `scaler.unscale_(optimizer)` on the line before the clip, for the one
optimizer the scaler steps after it in the iteration. It is safe: the clip then sees the
true gradients and `scaler.step` knows they are unscaled. It is not offered when the
iteration steps several optimizers with that scaler, calls `unscale_` later (a second
call would raise), or when the clip is not a statement on its own line.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradguard.findings import Finding, Fix, FixSafety, RelatedLocation, Severity
from gradguard.rules.base import FixAvailability, Rule, RuleContext, Silent
from gradguard.semantic import step_fixes
from gradguard.semantic.catalogue.training import CLIP_FUNCTIONS
from gradguard.semantic.step_events import EventKind, StepEvent
from gradguard.semantic.step_queries import describe, mutually_exclusive
from gradguard.semantic.steps import TrainingSteps, training_steps

_CLIP_NAMES = sorted({name.rsplit(".", 1)[-1] for name in CLIP_FUNCTIONS})


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    analysis = training_steps(context.facts, context.optimizers)
    regions: dict[ast.AST, None] = {}
    for method in ("backward", *_CLIP_NAMES):
        for event, scope in analysis.direct_events(method):
            if event.kind in (EventKind.BACKWARD, EventKind.CLIP):
                regions.setdefault(analysis.region_of(event, scope))
    reported: set[ast.AST] = set()
    for region in regions:
        for finding, clip in _check_region(rule, context, analysis, region):
            if clip.call not in reported:
                reported.add(clip.call)
                yield finding


def _check_region(
    rule: Rule, context: RuleContext, analysis: TrainingSteps, region: ast.AST
) -> Iterator[tuple[Finding, StepEvent]]:
    events = analysis.region_events(region)
    for index, clip in enumerate(events):
        if clip.kind is not EventKind.CLIP:
            continue
        backward = _scaled_backward_before(events[:index], clip)
        if backward is None or backward.scaler is None:
            continue
        info = analysis.roles.scaler(backward.scaler)
        if info is None or info.enabled is False:
            continue
        between = events[events.index(backward) + 1 : index]
        if any(_unscales(e, backward.scaler, clip) for e in between):
            continue
        yield _finding(rule, context, analysis, events[index + 1 :], clip, backward), clip


def _scaled_backward_before(earlier: list[StepEvent], clip: StepEvent) -> StepEvent | None:
    """The nearest backward before the clip that can run with it."""
    for event in reversed(earlier):
        if event.kind is EventKind.BACKWARD and not mutually_exclusive(event, clip):
            return event
    return None


def _unscales(event: StepEvent, scaler: str, clip: StepEvent) -> bool:
    if event.kind is EventKind.OPAQUE:
        return True  # a helper we cannot follow may unscale
    return (
        event.kind is EventKind.UNSCALE
        and event.scaler == scaler
        and not mutually_exclusive(event, clip)
    )


def _finding(
    rule: Rule,
    context: RuleContext,
    analysis: TrainingSteps,
    later: list[StepEvent],
    clip: StepEvent,
    backward: StepEvent,
) -> Finding:
    source = context.source
    scaler = backward.scaler or "scaler"
    optimizers = {
        e.target for e in later if e.kind is EventKind.STEP and e.scaler == scaler and e.target
    }
    optimizer = next(iter(optimizers)) if len(optimizers) == 1 else "optimizer"
    message = (
        f"{describe(source.node_text(clip.call), _clip_name(clip))} clips the gradients of "
        f"{describe(source.node_text(backward.call), 'the scaled backward')} while they are "
        "still multiplied by the scale (65536 by default): it cuts them to about "
        "`max_norm / scale`, so the update all but vanishes (with Adam-like optimizers the "
        f"moment estimates are built from these tiny gradients); call "
        f"`{scaler}.unscale_({optimizer})` before clipping"
    )
    related = [RelatedLocation(source.span_of(backward.node), "gradients scaled here")]
    fixes: list[Fix] = []
    unscaled_later = any(e.kind is EventKind.UNSCALE and e.scaler == scaler for e in later)
    if len(optimizers) == 1 and not unscaled_later and not clip.via_helper:
        edit = step_fixes.insert_before(source, clip.statement, f"{scaler}.unscale_({optimizer})")
        if edit is not None:
            title = f"Insert `{scaler}.unscale_({optimizer})` before the clip"
            fixes.append(Fix(title, FixSafety.SAFE, (edit,)))
    return rule.finding(context, clip.node, message, related=related, fixes=fixes)


def _clip_name(clip: StepEvent) -> str:
    func = getattr(clip.call, "func", None)
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "clip")
    return f"`{name}(...)`"


RULE = Rule(
    code="GG502",
    name="clip-before-unscale",
    summary="Gradients clipped while still scaled by a GradScaler (no `unscale_` first)",
    severity=Severity.ERROR,
    fix_availability=FixAvailability.SOMETIMES,
    doc=__doc__ or "",
    check_function=check,
    example_outcome=Silent(check="assert norm > 1_000_000 and update < 1e-5"),
    use_instead_check="assert 100 < norm < 120 and abs(update - 0.1) < 1e-6",
    required_words=("clip_grad",),
)
