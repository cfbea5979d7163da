"""## What it does
Checks for one list of parameter-group dicts passed to two optimizer constructions (or
to one construction that runs again in a loop). The list may be written in place, filled
with `groups.append({...})`, returned by a helper or a trainer's method
(`groups = self.param_groups()`), or chosen by a conditional expression; two calls of a
helper make two lists and are not reported.

## Why is this bad?
An optimizer writes its defaults into the group dicts it is given: after
`SGD(groups, lr=0.01)`, every dict in `groups` holds `'lr': 0.01` (and `momentum`,
`weight_decay`, ...). A second optimizer built from the same dicts treats those values as
per-group settings, so its own `lr` and other arguments are silently ignored
(pytorch/pytorch#51794).

## What PyTorch does
Nothing fails: `SGD(groups, lr=0.01)` followed by `SGD(groups, lr=0.5)` gives a second
optimizer whose groups all have `lr=0.01`.

## Example
```python
import torch
from torch import nn

model = nn.Linear(4, 2)
groups = [{"params": [model.weight]}, {"params": [model.bias]}]
warmup = torch.optim.SGD(groups, lr=0.01)
main = torch.optim.SGD(groups, lr=0.5)
```

## Use instead
```python
import torch
from torch import nn

model = nn.Linear(4, 2)
groups = [{"params": [model.weight]}, {"params": [model.bias]}]
warmup = torch.optim.SGD([dict(g) for g in groups], lr=0.01)
main = torch.optim.SGD([dict(g) for g in groups], lr=0.5)
```

## Fix safety
The fix passes a fresh copy, `[dict(g) for g in groups]`, to every optimizer built from
the list, so none of them can write into the dicts another one reads (copying only the
later one is not enough: the earlier optimizer has already written its defaults into the
shared dicts). It is safe: each optimizer then gets exactly the settings written at its
construction. It is offered only when every group's `'params'` is a list, a tuple or a
tensor: a generator (`model.parameters()`) in a group can be consumed only once, so
copies of such a group would leave every optimizer but the first with no parameters.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradguard.analysis.names import repeats_in
from gradguard.analysis.optimizers import OptimizerCreation
from gradguard.findings import Finding, Fix, FixSafety, Severity
from gradguard.rules.base import FixAvailability, Rule, RuleContext, Silent
from gradguard.semantic import control
from gradguard.semantic.bindings import Definition
from gradguard.semantic.model import SemanticModel
from gradguard.semantic.param_groups import dicts_of

# The definitions of the list a construction receives (its identity) and their dicts.
_Key = tuple[Definition, ...]


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    """Constructions that receive a name, grouped by the definitions of it they see."""
    lists = _GroupLists(SemanticModel.of(context.facts))
    # jedi is asked whether a call builds an optimizer only when it receives a list of
    # group dicts (no other construction takes part in a finding), and what the list
    # holds first with jedi muted.
    probe = context.optimizers.probe(lambda facts: _GroupLists(SemanticModel.of(facts)).found)
    by_list: dict[_Key, list[OptimizerCreation]] = {}
    for creation in context.optimizers.creations_where(lists.takes_group_dicts, probe):
        by_list.setdefault(lists.key_of(creation), []).append(creation)
    for key, uses in by_list.items():
        yield from _check_list(rule, context, key, lists.dicts[key], uses)


class _GroupLists:
    """The group dicts of the list each construction receives, by the definitions of it
    the construction sees."""

    def __init__(self, model: SemanticModel) -> None:
        self.model = model
        self.dicts: dict[_Key, list[ast.expr]] = {}

    def key_of(self, creation: OptimizerCreation) -> _Key:
        assert isinstance(creation.params, ast.Name)
        key = tuple(self.model.reaching(creation.params.id, creation.statement.node))
        if key not in self.dicts:
            found = [dicts_of(self.model, d) for d in key]
            self.dicts[key] = [d for part in found for d in part] if key and all(found) else []
        return key

    def takes_group_dicts(self, creation: OptimizerCreation) -> bool:
        return isinstance(creation.params, ast.Name) and bool(self.dicts[self.key_of(creation)])

    def found(self, creation: OptimizerCreation) -> list[bool]:
        """:meth:`takes_group_dicts` as a check's findings (analysis.demand.Probe)."""
        return [True] if self.takes_group_dicts(creation) else []


def _check_list(
    rule: Rule,
    context: RuleContext,
    key: _Key,
    dicts: list[ast.expr],
    uses: list[OptimizerCreation],
) -> Iterator[Finding]:
    name = key[0].name
    fixes = (_copy_fix(context, name, uses),) if _groups_copyable(dicts) else ()
    for position, use in enumerate(uses):
        earlier = next(
            (
                other
                for other in uses[:position]
                if not control.mutually_exclusive(context.facts, other.call, use.call)
            ),
            None,
        )
        loop = None if earlier else _repeating_loop(context, use, key)
        if earlier is None and loop is None:
            continue
        if earlier is not None:
            where = f"the optimizer built on line {earlier.call.lineno}"
        else:
            line = loop.lineno if loop is not None else use.call.lineno
            where = f"this same construction in an earlier iteration of the loop on line {line}"
        yield rule.finding(
            context,
            use.call,
            f"`{name}` was already given to {where}, which wrote its defaults (`lr`, ...) "
            "into these group dicts, so this optimizer silently inherits them instead of "
            "its own arguments",
            fixes=fixes,
        )


def _repeating_loop(context: RuleContext, use: OptimizerCreation, key: _Key) -> ast.stmt | None:
    """A loop around the construction, but not around the list's definitions."""
    facts = context.facts
    around_lists = [
        set(info.loops)
        for d in key
        if d.statement is not None and (info := facts.statement_info(d.statement)) is not None
    ]
    for loop in reversed(use.statement.loops):
        if any(loop in loops for loops in around_lists):
            continue
        if repeats_in(use.call, loop, facts.parents):
            return loop
    return None


def _groups_copyable(dicts: list[ast.expr]) -> bool:
    """Every group's ``params`` is a list, tuple, comprehension or tensor attribute."""
    for group in dicts:
        params = _params_value(group)
        if params is None or not _is_reusable(params):
            return False
    return True


def _params_value(group: ast.expr) -> ast.expr | None:
    if isinstance(group, ast.Dict):
        for key, value in zip(group.keys, group.values, strict=False):
            if isinstance(key, ast.Constant) and key.value == "params":
                return value
        return None
    if isinstance(group, ast.Call):
        for keyword in group.keywords:
            if keyword.arg == "params":
                return keyword.value
    return None


def _is_reusable(expr: ast.expr) -> bool:
    if isinstance(expr, (ast.List, ast.Tuple, ast.ListComp)):
        return True
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
        return expr.func.id in ("list", "tuple")
    # A single tensor attribute such as ``model.fc.weight`` (not a bound method).
    return isinstance(expr, ast.Attribute)


def _copy_fix(context: RuleContext, name: str, sharing: list[OptimizerCreation]) -> Fix:
    copy = f"[dict(g) for g in {name}]"
    return Fix(
        f"Pass a fresh copy of `{name}` to each optimizer",
        FixSafety.SAFE,
        tuple(context.source.replace(u.params, copy) for u in sharing if u.params is not None),
    )


RULE = Rule(
    code="GG104",
    name="reused-param-groups",
    summary="One list of parameter-group dicts is passed to two optimizers",
    severity=Severity.WARNING,
    fix_availability=FixAvailability.SOMETIMES,
    doc=__doc__ or "",
    check_function=check,
    example_outcome=Silent(check="assert [g['lr'] for g in main.param_groups] == [0.01, 0.01]"),
    use_instead_check="assert [g['lr'] for g in main.param_groups] == [0.5, 0.5]",
)
