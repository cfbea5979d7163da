"""## What it does
Checks for optimizers that receive no trainable parameters, or something that is not an
iterable of tensors or parameter-group dicts:

- a literal empty list or tuple (`SGD([], lr=0.01)`), also when the parameters are meant
  to be added later with `add_param_group`;
- a generator, `filter`, `map` or other iterator that was already consumed (by an earlier
  optimizer, `clip_grad_norm_`, `list(...)` or a `for` loop), and the reverse: an iterator
  the optimizer consumed that is used again (`clip_grad_norm_(same_filter, 1.0)`), or one
  consumed again in every iteration of a loop; also when a later use reaches it through
  an alias (`params_to_clip = lora_layers`);
- `model.parameters` without the call, the module itself (`SGD(model)`), a single tensor
  (`SGD(model.weight)`), a dict such as `dict(model.named_parameters())`,
  `model.state_dict().values()`, and non-leaf tensor expressions (`SGD([w * 2])`);
- `filter(lambda p: p.requires_grad, model.parameters())` (or a comprehension with the
  same test) right after every parameter of that model was frozen;
- `itertools.chain(*model.parameters(), w)`: the `*` hands `chain` each parameter as an
  iterable of its own, so it yields their rows (also `chain.from_iterable(params)`);
- `model.parameters()` of a model whose layers keep their weights as buffers
  (`self.register_buffer("weight", ...)`), so it has no parameters at all; also
  `self.model.parameters()` in a trainer's `__init__` when a construction in the file
  passes such a model (`Trainer(FixedProjection())`);
- a module that every call in the file passes to an optimizer factory or wrapper class
  whose code builds `optim.SGD(model, ...)` from it (in one branch, say).

## Why is this bad?
An optimizer copies its parameters once, at construction. When that input is empty,
exhausted or of the wrong kind, the optimizer either fails at once or holds nothing worth
training. Generators (`model.parameters()`, `filter(...)`, `map(...)`) can be iterated
only once: the second consumer silently sees an empty sequence.

## What PyTorch does
An empty list, an exhausted generator, or a filter over fully frozen parameters raises
`ValueError: optimizer got an empty parameter list` at construction (an optimizer created
as `SGD([], lr=0.01)` never reaches a later `add_param_group`).
`SGD(model.parameters, lr=0.1)` raises `TypeError: 'method' object is not iterable`;
`SGD(model, lr=0.1)` raises `TypeError: 'Linear' object is not iterable` (`'Net'` for a
model class `Net`; an `nn.Sequential` is iterable and raises `TypeError: optimizer can
only optimize Tensors, but one of the params is torch.nn.modules.linear.Linear`);
`SGD(model.weight, lr=0.1)` raises `TypeError: params argument given to the optimizer
should be an iterable of Tensors or dicts, but got torch.FloatTensor`;
`SGD(dict(model.named_parameters()), lr=0.1)` raises `TypeError: optimizer can only
optimize Tensors, but one of the params is str`; `SGD([w * 2])` raises
`ValueError: can't optimize a non-leaf Tensor`, and so does
`SGD(itertools.chain(*model.parameters(), w))`: for an `nn.Linear(4, 3)` and a `(2, 4)`
parameter `w`, `chain` yields 8 tensors (the weight's rows, the bias's elements, `w`'s
rows), views with `grad_fn=UnbindBackward0`. A model whose layers only register buffers
has `list(model.parameters()) == []`, so `SGD(model.parameters())` raises
`ValueError: optimizer got an empty parameter list` (all measured on torch 2.13.0).
Some cases are silent: `model.state_dict().values()` holds detached copies whose `.grad`
stays `None`, so `step()` skips them and the model never changes; `clip_grad_norm_` given
an exhausted generator or `filter` returns `0.0` and clips nothing (only a generator
triggers a `UserWarning`, a `filter` none); a `for` loop over an exhausted iterator runs
no iterations. `SGD([{'params': []}])` followed by `add_param_group` works, and so does
`SGD(model.named_parameters())`.

## Example
```python
import torch
from torch import nn

model = nn.Linear(4, 2)
params = model.parameters()
optimizer = torch.optim.SGD(params, lr=0.1)
# A second optimizer (for example for a SWA copy) from the same generator:
averaged = torch.optim.SGD(params, lr=0.05)
```

## Use instead
```python
import torch
from torch import nn

model = nn.Linear(4, 2)
params = list(model.parameters())
optimizer = torch.optim.SGD(params, lr=0.1)
averaged = torch.optim.SGD(params, lr=0.05)
for _ in range(2):
    optimizer.zero_grad()
    model(torch.randn(8, 4)).pow(2).mean().backward()
    optimizer.step()
```

## Fix safety
Adding the missing `()`, materialising a consumed generator with `list(...)` where it is
created, passing `model.parameters()` instead of the module, and wrapping a single tensor
in a list are safe: each turns a program that raises or silently does nothing into the
evident intended one; so is rewriting `itertools.chain(*model.parameters(), w)` as
`itertools.chain(model.parameters(), [w])`. Passing `model.parameters()` where a factory
or wrapper receives the module from its callers is unsafe: callers in other files may
pass it parameters, which the change would break. For `SGD([], ...)` followed by
`add_param_group({'params': X})`, the fix moves the optimizer creation below the
statement that creates the model, passes `X` directly and removes the `add_param_group`
call; it reorders statements, so it is unsafe, and it is offered only when nothing in
between uses the optimizer or changes its inputs.
"""

# How it is built: each check is a module of ``gradguard.rules.gg101`` (see its
# ``__init__``), a short query over the semantic model (``semantic.kinds``,
# ``semantic.parameter_free``, ``semantic.callers``); this module orders them.

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from gradguard.analysis.optimizers import OptimizerCreation
from gradguard.findings import Finding, Severity
from gradguard.rules.base import FixAvailability, Raises, Rule, RuleContext
from gradguard.rules.gg101 import (
    contents,
    exhausted,
    frozen_filter,
    no_parameters,
    passed_module,
    star_chain,
    wrong_kind,
)
from gradguard.rules.gg101.base import Checker

_Check = Callable[[Checker, OptimizerCreation], Iterator[Finding]]
# The argument is of the wrong kind: nothing else is said about that construction.
_WRONG_KIND: tuple[_Check, ...] = (wrong_kind.check, passed_module.check)
# What the argument holds: the first that applies is the diagnosis.
_CONTENTS: tuple[_Check, ...] = (
    contents.check,
    star_chain.check,
    no_parameters.check,
    frozen_filter.check,
)


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    checker = Checker(rule, context)
    # A construction's checks read only it and the file: jedi is asked whether the call
    # builds an optimizer only when its argument would be reported, and about what the
    # argument holds only when no finding can be made without asking.
    probe = context.optimizers.probe(
        lambda facts: partial(_check_creation, Checker(rule, RuleContext(facts)))
    )
    yield from context.optimizers.findings_of_each(partial(_check_creation, checker), probe=probe)
    yield from exhausted.check(checker)


def _check_creation(checker: Checker, creation: OptimizerCreation) -> Iterator[Finding]:
    if creation.params is None:
        return
    wrong = _first(checker, creation, _WRONG_KIND)
    if wrong:
        yield from wrong
        return
    yield from _first(checker, creation, _CONTENTS)
    yield from wrong_kind.check_groups(checker, creation)


def _first(
    checker: Checker, creation: OptimizerCreation, checks: tuple[_Check, ...]
) -> list[Finding]:
    for one in checks:
        found = list(one(checker, creation))
        if found:
            return found
    return []


RULE = Rule(
    code="GG101",
    name="empty-parameter-list",
    summary="Optimizer receives no trainable parameters, or something that is not an "
    "iterable of tensors",
    severity=Severity.ERROR,
    fix_availability=FixAvailability.SOMETIMES,
    doc=__doc__ or "",
    check_function=check,
    example_outcome=Raises("ValueError", "optimizer got an empty parameter list"),
)
