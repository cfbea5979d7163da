"""## What it does
Checks for one list of parameter-group dicts passed to two optimizer constructions (or
to one construction that runs again in a loop).

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

from gradguard.analysis import flow
from gradguard.analysis.names import bound_chains, mutually_exclusive, repeats_in
from gradguard.analysis.optimizers import OptimizerCreation
from gradguard.findings import Finding, Fix, FixSafety, Severity
from gradguard.rules.base import FixAvailability, Rule, RuleContext, Silent


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    # Group the constructions that receive a plain name, per scope and name.
    by_scope: dict[int, tuple[flow.Scope, dict[str, list[OptimizerCreation]]]] = {}
    # jedi is asked whether a call builds an optimizer only when it receives a list of
    # group dicts: no other construction takes part in a finding.
    for creation in context.optimizers.creations_where(lambda c: _takes_group_list(context, c)):
        if isinstance(creation.params, ast.Name):
            _, by_name = by_scope.setdefault(id(creation.scope), (creation.scope, {}))
            by_name.setdefault(creation.params.id, []).append(creation)
    for scope, by_name in by_scope.values():
        for name, uses in by_name.items():
            yield from _check_list(rule, context, scope, name, uses)


def _takes_group_list(context: RuleContext, creation: OptimizerCreation) -> bool:
    """``SGD(groups)`` where ``groups`` was last bound to a list of group dicts."""
    params = creation.params
    if not isinstance(params, ast.Name):
        return False
    binding = _binding_before(_group_bindings(context, creation.scope, params.id), creation)
    return binding is not None and _is_group_list(context, creation.scope, binding, params.id)


def _group_bindings(context: RuleContext, scope: flow.Scope, name: str) -> list[flow.StatementInfo]:
    return [info for info in context.facts.statements_of(scope) if name in bound_chains(info.node)]


def _check_list(
    rule: Rule,
    context: RuleContext,
    scope: flow.Scope,
    name: str,
    uses: list[OptimizerCreation],
) -> Iterator[Finding]:
    bindings = _group_bindings(context, scope, name)
    for position, use in enumerate(uses):
        binding = _binding_before(bindings, use)
        if binding is None or not _is_group_list(context, scope, binding, name):
            continue
        earlier = next(
            (
                other
                for other in uses[:position]
                if _binding_before(bindings, other) is binding
                and not mutually_exclusive(other.call, use.call, context.facts.parents)
            ),
            None,
        )
        loop = None if earlier else _repeating_loop(context, use, binding)
        if earlier is None and loop is None:
            continue
        sharing = [u for u in uses if _binding_before(bindings, u) is binding]
        fixes = (
            (_copy_fix(context, name, sharing),)
            if _groups_copyable(context, scope, binding, name)
            else ()
        )
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


def _binding_before(
    bindings: list[flow.StatementInfo], use: OptimizerCreation
) -> flow.StatementInfo | None:
    before = [b for b in bindings if b.order < use.statement.order]
    return before[-1] if before else None


def _repeating_loop(
    context: RuleContext, use: OptimizerCreation, binding: flow.StatementInfo
) -> ast.stmt | None:
    for loop in reversed(use.statement.loops):
        if loop not in binding.loops and repeats_in(use.call, loop, context.facts.parents):
            return loop
    return None


def _is_group_list(
    context: RuleContext, scope: flow.Scope, binding: flow.StatementInfo, name: str
) -> bool:
    """``name = [{...}, ...]`` (or a comprehension of dicts), or ``name = []`` filled with
    ``name.append({...})``."""
    return bool(_group_dicts(context, scope, binding, name))


def _group_dicts(
    context: RuleContext, scope: flow.Scope, binding: flow.StatementInfo, name: str
) -> list[ast.expr]:
    node = binding.node
    if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
        return []
    value = node.value
    if isinstance(value, ast.List) and not value.elts:
        return _appended_dicts(context, scope, binding, name)
    return _literal_dicts(value) or _returned_dicts(context, value)


def _literal_dicts(value: ast.expr | None) -> list[ast.expr]:
    """The dicts of ``[{...}, ...]`` or of a comprehension of dicts."""
    if isinstance(value, ast.List) and value.elts:
        dicts = [e for e in value.elts if _is_dict(e)]
        return dicts if len(dicts) == len(value.elts) else []
    if isinstance(value, ast.ListComp) and _is_dict(value.elt):
        return [value.elt]
    return []


def _returned_dicts(context: RuleContext, value: ast.expr) -> list[ast.expr]:
    """``get_groups(model)``: a function of this file whose every ``return`` gives a new
    list of group dicts (and that is not a generator)."""
    if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)):
        return []
    function = context.facts.functions.get(value.func.id)
    if function is None or isinstance(function, ast.AsyncFunctionDef):
        return []
    nodes = [n for stmt in function.body for n in flow.walk_local(stmt)]
    if any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in nodes):
        return []
    returns = [n for n in nodes if isinstance(n, ast.Return)]
    dicts: list[ast.expr] = []
    for ret in returns:
        found = _literal_dicts(ret.value)
        if not found:
            return []
        dicts.extend(found)
    return dicts


def _appended_dicts(
    context: RuleContext, scope: flow.Scope, binding: flow.StatementInfo, name: str
) -> list[ast.expr]:
    found: list[ast.expr] = []
    for info in context.facts.statements_of(scope)[binding.order + 1 :]:
        if name in bound_chains(info.node):
            break
        for call in flow.calls_in(info.node) if not isinstance(info.node, flow.SCOPE_TYPES) else ():
            if flow.method_name(call) == "append" and flow.dotted_name(call.func.value) == name:  # type: ignore[attr-defined]
                if len(call.args) != 1 or not _is_dict(call.args[0]):
                    return []
                found.append(call.args[0])
    return found


def _is_dict(expr: ast.expr) -> bool:
    if isinstance(expr, ast.Dict):
        return True
    return (
        isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and (expr.func.id == "dict")
    )


def _groups_copyable(
    context: RuleContext, scope: flow.Scope, binding: flow.StatementInfo, name: str
) -> bool:
    """Every group's ``params`` is a list, tuple, comprehension or tensor attribute."""
    dicts = _group_dicts(context, scope, binding, name)
    if not dicts:
        return False
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
