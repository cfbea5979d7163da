"""## What it does
Checks for uses of a tensor's `.grad` that fail when it is `None` (an attribute or method
read on it: `p.grad.zero_()`, `p.grad.data.clamp_(...)`; an operand of arithmetic:
`p -= lr * p.grad`; an augmented assignment: `p.grad *= 0.5`) where `.grad` can still be
`None` and nothing checks it first:
- in a loop (or comprehension) over `model.parameters()`, over a name holding them, or
  over `group["params"]` for each group of `optimizer.param_groups` (also `self` in the
  `step()` of a same-file `Optimizer` subclass: the parameters the file builds it with),
  when the file shows a reason some parameter can lack a gradient: a layer `forward()`
  never uses, a branch in `forward()` that decides which layers run, a layer run under
  `torch.no_grad()`, parameters frozen anywhere in the file (`requires_grad_(False)`,
  `requires_grad = False`, `nn.Parameter(..., requires_grad=False)`), one list holding
  several models' parameters, or no `backward()` since the model was built. A loop over
  a model every parameter of which the file shows taking part (`torch.nn` layers, a
  same-file module whose `forward()` uses all its layers) is left alone, and so is a
  model the file does not show (a function's parameter, an imported model) when nothing
  is frozen; parameters filtered on `requires_grad` are not reported for a freeze;
- on a parameter a same-file module class keeps in a field (`op.alpha.grad`, `op`
  running over `self.ops`) when its `forward()` never uses it, uses it only on some
  paths (a sampled branch, after an early `return`), or it does not require grad; or when
  the forward of the module holding `self.ops` runs only some of them
  (`random.choice(self.ops)`, `self.ops[i]` with a computed `i`);
- before the first `backward()` after the tensor or model was created;
- after `optimizer.zero_grad()` or `model.zero_grad()` with no `backward()` in between;
- after `x.grad = None`;
- on a tensor created without `requires_grad=True`.

## Why is this bad?
`.grad` is `None` until a `backward()` reaches the tensor. Parameters that take no part
in the loss (an unused layer, a frozen backbone) keep `grad is None` even after
`backward()`, and `zero_grad()` sets every gradient back to `None` because its default
is `set_to_none=True`. This is what really produces
`AttributeError: 'NoneType' object has no attribute 'zero_'`.

## What PyTorch does
For a parameter without a gradient, `p.grad.zero_()` raises
`AttributeError: 'NoneType' object has no attribute 'zero_'`, and `p.grad.data` raises
`AttributeError: 'NoneType' object has no attribute 'data'`. A parameter made with
`nn.Parameter(t, requires_grad=False)` keeps `.grad is None` after `backward()`:
`p -= 0.01 * p.grad` then raises
`TypeError: unsupported operand type(s) for *: 'float' and 'NoneType'`, and
`p.grad *= 0.5` raises `TypeError: unsupported operand type(s) for *=: 'NoneType' and
'float'`. `optimizer.zero_grad()` and
`optimizer.step()` themselves skip parameters whose `.grad` is `None`.

## Example
```python
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 8)
        self.head = nn.Linear(8, 2)
        self.aux_head = nn.Linear(8, 2)  # not used by forward()

    def forward(self, x):
        return self.head(torch.relu(self.body(x)))


model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(2):
    loss = model(torch.randn(16, 4)).pow(2).mean()
    loss.backward()
    optimizer.step()
    for p in model.parameters():
        p.grad.zero_()
```

## Use instead
```python
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 8)
        self.head = nn.Linear(8, 2)
        self.aux_head = nn.Linear(8, 2)  # not used by forward()

    def forward(self, x):
        return self.head(torch.relu(self.body(x)))


model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(2):
    loss = model(torch.randn(16, 4)).pow(2).mean()
    loss.backward()
    optimizer.step()
    for p in model.parameters():
        if p.grad is not None:
            p.grad.zero_()
```

## Fix safety
Two fixes are offered, both safe. "Wrap in `if p.grad is not None:`" puts the statement
under that check, so it runs only when there is a gradient; it is offered only when the
use is in a whole statement on its own lines that binds no name (an expression statement,
or an assignment to an attribute such as `p.grad.data = ...` or `p.grad /= k`; not
`p -= lr * p.grad`, which rebinds `p`). For the zeroing idiom
`p.grad.zero_()` / `p.grad.data.zero_()`, "Replace with `p.grad = None`" clears the
gradient the way `zero_grad()` does by default: the next `backward()` stores a fresh
gradient either way. One difference to know: `optimizer.step()` skips a parameter whose
`.grad` is `None` (no weight decay or momentum update for it that step).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradguard.analysis import edits, flow, none_guards
from gradguard.findings import Finding, Fix, FixSafety, RelatedLocation, Severity
from gradguard.rules.base import FixAvailability, Raises, Rule, RuleContext
from gradguard.semantic.grad_states import GradStates, Reason, State
from gradguard.semantic.grad_uses import GradUse, grad_uses
from gradguard.semantic.parameter_loops import ParameterLoops


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    states = GradStates(context.facts, context.optimizers)
    loops = ParameterLoops(states)
    reported: set[tuple[int, str]] = set()
    for use in grad_uses(context.facts):
        key = (id(use.statement), use.owner)
        if key in reported:
            continue
        if none_guards.is_guarded(use.grad, f"{use.owner}.grad", context.facts.parents):
            continue
        reason = loops.reason(use) or _field_reason(states, use) or states.reason(use)
        if reason is None:
            continue
        reported.add(key)
        yield rule.finding(
            context,
            use.span,
            _message(use, reason, context),
            related=_related(context, reason),
            fixes=_fixes(context, use),
        )


def _field_reason(states: GradStates, use: GradUse) -> Reason | None:
    """``op.alpha.grad`` of a parameter a same-file module may leave without gradient."""
    if not use.attribute:
        return None
    gap = states.semantic.field_gap(use.grad.value)
    return Reason(State.NO_GRADIENT, gap.node, detail=gap.reason) if gap is not None else None


# -- messages and fixes -----------------------------------------------------------------


def _message(use: GradUse, reason: Reason, context: RuleContext) -> str:
    error = use.error
    grad = f"`{use.owner}.grad`"
    line = context.source.span_of(reason.event).start.line + 1 if reason.event else 0
    if reason.state is State.PARAMETER_LOOP:
        return (
            f"{grad} is None for every parameter that got no gradient (not used in the loss, "
            f"or frozen), so this raises {error}"
        )
    if reason.state is State.NO_GRADIENT:
        return f"{grad} is None whenever `{use.owner}` gets no gradient, so this raises {error}"
    if reason.state is State.ZEROED:
        return (
            f"`{reason.receiver}.zero_grad()` on line {line} sets {grad} to None (its default is "
            f"set_to_none=True), so this raises {error}"
        )
    if reason.state is State.SET_NONE:
        return f"{grad} is set to None on line {line}, so this raises {error}"
    if reason.state is State.NO_REQUIRES:
        return f"`{use.owner}` does not require grad, so {grad} stays None and this raises {error}"
    return f"{grad} is None until a backward() reaches `{use.owner}`, so this raises {error}"


def _related(context: RuleContext, reason: Reason) -> tuple[RelatedLocation, ...]:
    if reason.event is None:
        return ()
    if reason.state in (State.PARAMETER_LOOP, State.NO_GRADIENT):
        return (RelatedLocation(context.source.span_of(reason.event), reason.detail),)
    text = {
        State.ZEROED: "gradients set to None here",
        State.SET_NONE: "`.grad` set to None here",
        State.NO_REQUIRES: "created without requires_grad=True here",
        State.FRESH: "created here; no backward() since",
    }.get(reason.state, "")
    return (RelatedLocation(context.source.span_of(reason.event), text),) if text else ()


def _fixes(context: RuleContext, use: GradUse) -> tuple[Fix, ...]:
    grad = f"{use.owner}.grad"
    fixes = []
    wrap = edits.wrap_in_if(context.source, use.statement, f"{grad} is not None")
    if wrap is not None:
        fixes.append(Fix(f"Wrap in `if {grad} is not None:`", FixSafety.SAFE, (wrap,)))
    if _is_zeroing(use):
        fixes.append(
            Fix(
                f"Replace with `{grad} = None`",
                FixSafety.SAFE,
                (context.source.replace(use.statement, f"{grad} = None"),),
            )
        )
    return tuple(fixes)


def _is_zeroing(use: GradUse) -> bool:
    """The statement is exactly ``x.grad.zero_()`` or ``x.grad.data.zero_()``."""
    stmt = use.statement
    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
        return False
    call = stmt.value
    if call.args or call.keywords or flow.method_name(call) != "zero_":
        return False
    receiver = call.func.value  # type: ignore[attr-defined]
    if isinstance(receiver, ast.Attribute) and receiver.attr == "data":
        receiver = receiver.value
    return receiver is use.grad


RULE = Rule(
    code="GG301",
    name="grad-may-be-none",
    summary="`.grad` is used where it can be None",
    severity=Severity.WARNING,
    fix_availability=FixAvailability.SOMETIMES,
    doc=__doc__ or "",
    check_function=check,
    example_outcome=Raises("AttributeError", "'NoneType' object has no attribute 'zero_'"),
    use_instead_check=(
        "assert model.aux_head.weight.grad is None\n"
        "assert float(model.head.weight.grad.abs().sum()) == 0.0\n"
    ),
    # Every finding is about a `.grad` read (`x . grad` too).
    required_text=r"\.[\s\\]*grad",
    required_words=("grad",),
    required_text_shortcuts=(".grad",),
)
