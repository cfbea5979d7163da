"""## What it does
Checks for training loops that call `backward()` and the optimizer's `step()` in every
iteration but never clear the gradients: no `optimizer.zero_grad()`, no
`model.zero_grad()`, no `p.grad = None` (or `p.grad.zero_()`) loop, and no same-file
helper called in the loop that does one of these. It is reported at the `step()` call.

The loop is the innermost loop around the `step()` that also runs a backward. When the
`step()` is in a function with no such loop (one training step per call), the rule looks
at the loops of the same file that call that function: it reports only when every call
is in a loop and neither the function nor those loops clear the gradients.

An optimizer step is `<opt>.step()` on a name the file binds to an optimizer,
`scaler.step(<opt>)`, or, when the file cannot tell, `.step()` on a name spelled like an
optimizer (`optimizer`, `opt`, `optim`, `opt_g`, `d_optimizer`, ...); `scheduler.step()`
is not one. Clearing the gradients once before the loop does not count: it does not
clear them per iteration. A loop that trains two optimizers but only calls the other
one's `zero_grad()` is reported too (a GAN loop with `opt_g.zero_grad()` and no
`opt_d.zero_grad()`), when the file builds both from the `parameters()` of two separate
modules.

A loop whose gradients are cleared in only one branch of an `if` is reported too (`if
args.amp:` clears, `else:` does not; or `if flag: optimizer.zero_grad()` with an
unconditional step), at the step on the path that does not clear.

Not reported: gradient accumulation (the `step()` runs under a condition such as
`if (i + 1) % k == 0:`, or the clearing does; a step skipped only when the gradients are
not finite, `if torch.isfinite(grad_norm):`, is no accumulation and is reported), zeroing
after `step()`, zeroing in a helper of the same file, a loop that builds the model it
trains again in every iteration (each iteration starts from fresh parameters), and loops
that clear gradients in any other way (a `model.zero_grad()`, a `p.grad = None` loop, or
an optimizer whose parameters the file does not show are separate are assumed to clear
the stepped gradients).

## Why is this bad?
`backward()` adds its gradients to whatever `.grad` already holds. Without clearing,
every step applies the sum of the gradients of all iterations so far, not the gradient
of the current batch, so the updates grow with the number of iterations. Nothing fails
or warns.

## What PyTorch does
Gradients accumulate in `.grad` across `backward()` calls by design (that is how
gradient accumulation works); `optimizer.step()` does not clear them. In the example
below, after two iterations `model.weight.grad` equals twice the gradient of one
iteration (the loss is linear in the weight, so each iteration adds the same gradient),
and the second step applied that doubled gradient.

## Example
```python
import torch
from torch import nn

model = nn.Linear(3, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.randn(8, 3)
one_iteration_grad = x.sum(dim=0, keepdim=True)  # d(model(x).sum())/d(weight)

for step in range(2):
    loss = model(x).sum()
    loss.backward()
    optimizer.step()
```

## Use instead
```python
import torch
from torch import nn

model = nn.Linear(3, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.randn(8, 3)
one_iteration_grad = x.sum(dim=0, keepdim=True)  # d(model(x).sum())/d(weight)

for step in range(2):
    loss = model(x).sum()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
```

## Fix safety
The fix inserts `<optimizer>.zero_grad()` on its own line just before the first
backward call of the iteration (when the loop steps several optimizers in turn, the
first backward after the previous optimizer's step). It is unsafe: if the accumulation
was intended, the update changes, and a backward before the inserted line no longer
contributes to this step. It is offered only when that backward is a statement of the
loop body (or of a `with`/`try` block in it, or of the function for one step per call)
and the optimizer's name is not rebound inside the loop.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradguard.analysis import flow
from gradguard.analysis.optimizer_uses import related_names
from gradguard.analysis.optimizers import parameter_owner
from gradguard.findings import Finding, Fix, FixSafety, Position, RelatedLocation, Severity
from gradguard.rules.base import FixAvailability, Rule, RuleContext, Silent
from gradguard.semantic.assigned import assigned_values
from gradguard.semantic.finite_checks import runs_unless_non_finite
from gradguard.semantic.model import SemanticModel
from gradguard.semantic.step_branches import clearing_in_one_branch, rebuilt_each_iteration
from gradguard.semantic.step_events import EventKind, GradEvent, may_clear
from gradguard.semantic.step_queries import binds_name, describe, starts_its_line
from gradguard.semantic.steps import TrainingSteps, training_steps


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    analysis = training_steps(context.facts, context.optimizers)
    branch_loops: set[ast.AST] = set()
    for step, scope in analysis.steps():
        finding = None
        if step.definite:
            finding = _check_step(rule, context, analysis, step, scope)
        loop = analysis.iteration_loop(step.statement)
        if finding is None and loop is not None and loop not in branch_loops:
            branch_loops.add(loop)
            finding = _check_branches(rule, context, analysis, loop)
        if finding is not None:
            yield finding


def _check_branches(
    rule: Rule, context: RuleContext, analysis: TrainingSteps, loop: ast.stmt
) -> Finding | None:
    """``if args.amp:`` clears the gradients, ``else`` does not."""
    found = clearing_in_one_branch(analysis, loop)
    if found is None or rebuilt_each_iteration(analysis, loop, found.step):
        return None
    source = context.source
    condition = describe(source.node_text(found.branch.test), "its condition")
    answer = "true" if found.clears_when else "false"
    message = (
        f"Gradients are cleared only when {condition} is {answer}: on the other path each "
        f"{_backward_text(context, found.backward)} adds to the `.grad` left by earlier "
        f"iterations, so {describe(source.node_text(found.step.node), '`step()`')} applies "
        "their sum"
    )
    related = [RelatedLocation(source.span_of(found.backward.node), "gradients accumulate here")]
    backward = found.backward.statement
    fixable = found.backward_block is not None and not found.backward.via_helper
    fix = _insert_line(context, backward, found.step.target) if fixable else None
    return rule.finding(
        context, found.step.node, message, related=related, fixes=[fix] if fix else []
    )


def _check_step(
    rule: Rule,
    context: RuleContext,
    analysis: TrainingSteps,
    step: GradEvent,
    scope: ast.AST,
) -> Finding | None:
    loop = analysis.iteration_loop(step.statement)
    if loop is not None:
        return _check_loop_step(rule, context, analysis, step, loop)
    if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return _check_function_step(rule, context, analysis, step, scope)
    return None


def _check_loop_step(
    rule: Rule,
    context: RuleContext,
    analysis: TrainingSteps,
    step: GradEvent,
    loop: ast.stmt,
) -> Finding | None:
    if not analysis.path_is_unconditional(
        step.statement, loop, loops_ok=True
    ) and not runs_unless_non_finite(analysis, step.statement, loop):
        return None  # accumulation: the step runs every k iterations
    if rebuilt_each_iteration(analysis, loop, step):
        return None  # a fresh model per iteration: nothing accumulates
    other = None
    if analysis.clears_anywhere(loop.body):  # type: ignore[attr-defined]
        other = _only_other_optimizers_cleared(context, analysis, loop, step)
        if other is None:
            return None
    backward = _backward_feeding(analysis, loop, step)
    if backward is None:
        return None
    if other is not None:
        message = (
            f"This loop clears only the gradients of `{other}`, never those stepped by "
            f"{describe(context.source.node_text(step.node), '`step()`')}: each "
            f"{_backward_text(context, backward)} adds to the `.grad` left by earlier "
            "iterations, so the step applies their sum"
        )
        return _finding(rule, context, analysis, step, backward, loop, message)
    message = (
        f"Gradients are never cleared in this loop: each {_backward_text(context, backward)} "
        f"adds to the `.grad` left by earlier iterations, so "
        f"{describe(context.source.node_text(step.node), '`step()`')} applies their sum"
    )
    return _finding(rule, context, analysis, step, backward, loop, message)


def _only_other_optimizers_cleared(
    context: RuleContext, analysis: TrainingSteps, loop: ast.stmt, step: GradEvent
) -> str | None:
    """When every clearing in the loop is ``<other>.zero_grad()`` on another optimizer or
    module whose parameters surely differ from the stepped one's (``opt_G.zero_grad()``
    or ``netG.zero_grad()`` in a GAN loop that also steps ``opt_D``), that other name;
    else None (the loop may clear the step's gradients)."""
    stepped = _plain_models(context, analysis, step.target)
    if stepped is None:
        return None
    cleared: list[str] = []
    for node in (n for s in loop.body for n in flow.walk_local(s)):  # type: ignore[attr-defined]
        helper = analysis.helper_of(node) if isinstance(node, ast.Call) else None
        if helper is not None and analysis.clears_anywhere(helper.body):
            return None  # a same-file helper clears something
        if (isinstance(node, ast.keyword) and node.arg == "set_to_none") or (
            isinstance(node, ast.Call) and flow.method_name(node) == "zero_grad"
        ):
            continue  # judged at the call's ``.zero_grad`` attribute below
        if not may_clear(node):
            continue
        parent = context.facts.parents.get(node)
        if not (
            isinstance(node, ast.Attribute)
            and node.attr == "zero_grad"
            and isinstance(parent, ast.Call)
            and parent.func is node
        ):
            return None
        other = flow.dotted_name(node.value)
        if other is None or other == step.target:
            return None
        if analysis.is_optimizer_name(other):
            models = _plain_models(context, analysis, other)
        else:
            models = {other} if _built_by_calls(context, other) else None
        if models is None or not all(_separate(context, a, b) for a in models for b in stepped):
            return None
        cleared.append(other)
    return cleared[0] if cleared else None


def _plain_models(
    context: RuleContext, analysis: TrainingSteps, optimizer: str | None
) -> set[str] | None:
    """The modules an optimizer holds, when every creation bound to its name takes
    ``model.parameters()`` (maybe filtered) of a module the file builds with a call
    (not an alias such as ``disc = model.disc``); None when unsure."""
    creations = analysis.optimizers.bound_to(optimizer) if optimizer else []
    if not creations:
        return None
    models: set[str] = set()
    for creation in creations:
        owners = _parameter_owners(creation.params) if creation.params is not None else None
        if not owners or not all(_built_by_calls(context, owner) for owner in owners):
            return None
        models |= owners
    return models


def _parameter_owners(params: ast.expr) -> set[str] | None:
    """``{"G_AB", "G_BA"}`` for ``itertools.chain(G_AB.parameters(), G_BA.parameters())``:
    the modules of an expression built only from ``m.parameters()`` with ``chain``,
    ``list``, ``filter(fn, ...)`` and ``+``; None for anything else."""
    if isinstance(params, ast.BinOp) and isinstance(params.op, ast.Add):
        left, right = _parameter_owners(params.left), _parameter_owners(params.right)
        return left | right if left is not None and right is not None else None
    if not isinstance(params, ast.Call):
        return None
    owner = parameter_owner(params)
    if owner is not None:
        return {owner} if not params.args and not params.keywords else None
    callee = (flow.dotted_name(params.func) or "").rsplit(".", 1)[-1]
    arguments = params.args
    if params.keywords or any(isinstance(a, ast.Starred) for a in arguments):
        return None
    if callee == "filter" and len(arguments) == 2:
        arguments = arguments[1:]
    elif not ((callee == "list" and len(arguments) == 1) or (callee == "chain" and arguments)):
        return None
    owners: set[str] = set()
    for argument in arguments:
        found = _parameter_owners(argument)
        if found is None:
            return None
        owners |= found
    return owners


def _assigned_values(context: RuleContext, name: str) -> list[ast.expr]:
    return assigned_values(SemanticModel.of(context.facts), name)


def _built_by_calls(context: RuleContext, name: str) -> bool:
    """Every assignment of ``name`` in the file is a call (``G = Generator()``), and
    there is one: the module is not an alias of a part of another."""
    cache: dict[str, bool] = context.__dict__.setdefault("_gg402_built_by_calls", {})
    if name not in cache:
        values = _assigned_values(context, name)
        cache[name] = bool(values) and all(isinstance(v, ast.Call) for v in values)
    return cache[name]


def _separate(context: RuleContext, a: str, b: str) -> bool:
    """Two modules the file builds apart: neither name is part of the other and neither
    is built from the other (``gan = GAN(netG, netD)`` holds ``netD``)."""
    cache: dict[tuple[str, str], bool] = context.__dict__.setdefault("_gg402_separate", {})
    if (a, b) not in cache:
        cache[(a, b)] = _separate_uncached(context, a, b)
    return cache[(a, b)]


def _separate_uncached(context: RuleContext, a: str, b: str) -> bool:
    if related_names(a, b):
        return False
    for name, other in ((a, b), (b, a)):
        for value in _assigned_values(context, name):
            inner = {id(n.value) for n in ast.walk(value) if isinstance(n, ast.Attribute)}
            for node in ast.walk(value):
                if isinstance(node, (ast.Name, ast.Attribute)) and id(node) not in inner:
                    dotted = flow.dotted_name(node)
                    if dotted is not None and related_names(dotted, other):
                        return False
    return True


def _check_function_step(
    rule: Rule,
    context: RuleContext,
    analysis: TrainingSteps,
    step: GradEvent,
    function: ast.FunctionDef | ast.AsyncFunctionDef,
) -> Finding | None:
    """One training step per call: the loop is in the callers of ``function``."""
    if not analysis.path_is_unconditional(step.statement, function, loops_ok=True):
        return None
    if analysis.clears_anywhere(function.body):
        return None
    sites = analysis.call_sites(function)
    if not sites:
        return None
    own_backward = _backward_feeding(analysis, function, step)
    for site in sites:
        statement = context.facts.enclosing_statement(site)
        if statement is None:
            return None
        loop = _innermost_loop(context, statement)
        if loop is None or not analysis.path_is_unconditional(statement, loop, loops_ok=True):
            return None
        if analysis.clears_anywhere(loop.body):  # type: ignore[attr-defined]
            return None
        if own_backward is None and _first_backward(analysis, loop) is None:
            return None
    name = getattr(function, "name", "the function")
    message = (
        f"`{name}()` is called in a loop and neither it nor the loop clears the gradients: "
        f"each {_backward_text(context, own_backward) if own_backward else '`backward()`'} "
        f"adds to the `.grad` left by earlier calls, so "
        f"{describe(context.source.node_text(step.node), '`step()`')} applies their sum"
    )
    return _finding(rule, context, analysis, step, own_backward, function, message)


def _innermost_loop(context: RuleContext, statement: ast.stmt) -> ast.stmt | None:
    for parent in context.facts.ancestors(statement):
        if isinstance(parent, flow.SCOPE_TYPES):
            return None
        if isinstance(parent, flow.LOOP_TYPES):
            return parent
    return None


def _first_backward(analysis: TrainingSteps, region: ast.AST) -> GradEvent | None:
    for event in analysis.region_events(region):
        if event.kind is EventKind.BACKWARD:
            return event
    return None


def _backward_feeding(
    analysis: TrainingSteps, region: ast.AST, step: GradEvent
) -> GradEvent | None:
    """The first backward after the previous optimizer step of the iteration (the one
    this step applies, when a loop trains several optimizers in turn); else the first."""
    events = analysis.region_events(region)
    position = next((i for i, e in enumerate(events) if e.node is step.node), None)
    if position is not None:
        previous_steps = [i for i in range(position) if events[i].kind is EventKind.STEP]
        start = previous_steps[-1] + 1 if previous_steps else 0
        for event in events[start:position]:
            if event.kind is EventKind.BACKWARD:
                return event
    return _first_backward(analysis, region)


def _backward_text(context: RuleContext, backward: GradEvent) -> str:
    return describe(context.source.node_text(backward.node), "`backward()`")


def _finding(
    rule: Rule,
    context: RuleContext,
    analysis: TrainingSteps,
    step: GradEvent,
    backward: GradEvent | None,
    region: ast.AST,
    message: str,
) -> Finding:
    related = []
    fixes: list[Fix] = []
    if backward is not None:
        related.append(
            RelatedLocation(context.source.span_of(backward.node), "gradients accumulate here")
        )
        fix = _insert_fix(context, analysis, step, backward, region)
        if fix is not None:
            fixes.append(fix)

    return rule.finding(context, step.node, message, related=related, fixes=fixes)


def _insert_fix(
    context: RuleContext,
    analysis: TrainingSteps,
    step: GradEvent,
    backward: GradEvent,
    region: ast.AST,
) -> Fix | None:
    """Insert ``<optimizer>.zero_grad()`` just before the iteration's first backward."""
    statement = backward.statement
    optimizer = step.target
    if not optimizer or not backward.definite:
        return None
    if not analysis.path_is_unconditional(statement, region, loops_ok=False):
        return None
    root = optimizer.split(".", 1)[0]
    body: list[ast.stmt] = getattr(region, "body", [])
    if root != "self" and (binds_name(body, root) or _loop_binds(region, root)):
        return None
    return _insert_line(context, statement, optimizer)


def _insert_line(context: RuleContext, statement: ast.stmt, optimizer: str | None) -> Fix | None:
    """Insert ``<optimizer>.zero_grad()`` on its own line above ``statement``."""
    source = context.source
    if not optimizer or not starts_its_line(source.line_text(statement.lineno - 1), statement):
        return None
    line = statement.lineno - 1
    text = f"{source.indentation_of(line)}{optimizer}.zero_grad(){source.newline}"
    return Fix(
        f"Insert `{optimizer}.zero_grad()` before line {line + 1}",
        FixSafety.UNSAFE,
        (source.insert_at(Position(line, 0), text),),
    )


def _loop_binds(region: ast.AST, name: str) -> bool:
    """``for opt in optimizers:`` binds ``opt`` for the loop body only."""
    target = getattr(region, "target", None) if isinstance(region, flow.LOOP_TYPES) else None
    return target is not None and any(
        isinstance(n, ast.Name) and n.id == name for n in ast.walk(target)
    )


RULE = Rule(
    code="GG402",
    name="missing-zero-grad",
    summary="A training loop calls `backward()` and `step()` but never clears the gradients",
    severity=Severity.WARNING,
    fix_availability=FixAvailability.SOMETIMES,
    doc=__doc__ or "",
    check_function=check,
    example_outcome=Silent(
        check="assert torch.allclose(model.weight.grad, 2 * one_iteration_grad)"
    ),
    use_instead_check="assert torch.allclose(model.weight.grad, one_iteration_grad)",
)
