"""## What it does
Checks for optimizers constructed inside the body of a training loop (a loop that also
calls `backward()` or `step()`), so that a new optimizer replaces the previous one on
every iteration. It also reports an optimizer built and stepped in a same-file function
that a loop calls on every iteration with the same model (`train(net, loader, epoch)` in
the epoch loop), including `if opt is None: opt = optim.Adam(...)` when that call never
passes `opt`.

## Why is this bad?
An optimizer keeps state between steps: momentum buffers, Adam's moment estimates and
its step count. A new optimizer starts with empty state, so every iteration throws that
state away: momentum never builds up and Adam always behaves as on its very first step.

## What PyTorch does
Nothing fails. Construction is cheap and `step()` works, but the state is reset: with
`Adam` built inside the loop, `optimizer.state[p]['step']` is `1` after every iteration.

## Example
```python
import torch
from torch import nn

model = nn.Linear(4, 1)
data = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(3)]
for x, y in data:
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    optimizer.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()
```

## Use instead
```python
import torch
from torch import nn

model = nn.Linear(4, 1)
data = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(3)]
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
for x, y in data:
    optimizer.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()
```

## Fix safety
The fix moves the construction above the loop. It is unsafe: it changes when the
optimizer is built and which state it carries, which is the point, but a loop that
recreates the optimizer on purpose (a restart schedule) changes behaviour. It is
offered only when everything the construction reads is defined before the loop and
not rebound inside it, and when the statement can be moved as whole lines.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradguard.analysis import edits, flow
from gradguard.analysis.names import repeats_in
from gradguard.analysis.optimizers import OptimizerCreation
from gradguard.findings import Finding, Fix, FixSafety, RelatedLocation, Severity
from gradguard.rules.base import FixAvailability, Rule, RuleContext, Silent
from gradguard.semantic import per_iteration
from gradguard.semantic.model import SemanticModel

_RESET = (
    "so a new optimizer with empty state (momentum, Adam moments, step count) replaces "
    "the previous one on every iteration"
)


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    semantic = SemanticModel.of(context.facts)
    for creation in context.optimizers.creations:
        name = flow.dotted_name(creation.call.func) or "The optimizer"
        loop = _reset_loop(context, semantic, creation)
        if loop is None:
            yield from _reset_by_caller(rule, context, semantic, creation, name)
            continue
        fixes = tuple(_hoist_fixes(context, semantic, creation))
        yield rule.finding(
            context,
            creation.call,
            f"`{name}` is constructed inside the training loop on line {loop.lineno}, {_RESET}",
            fixes=fixes,
        )


def _enclosing_loops(context: RuleContext, creation: OptimizerCreation) -> tuple[ast.stmt, ...]:
    """Loops of the same scope whose body holds the creation, innermost first (a loop's
    ``else`` block runs once)."""
    parents = context.facts.parents
    return tuple(
        loop
        for loop in reversed(creation.statement.loops)
        if repeats_in(creation.statement.node, loop, parents)
    )


def _reset_loop(
    context: RuleContext, semantic: SemanticModel, creation: OptimizerCreation
) -> ast.stmt | None:
    """The innermost training loop that rebuilds the optimizer for the same parameters
    on each pass (None when the parameters' owner, or the construction itself, is
    conditional or re-created inside the loop: a fold, a trial, a lazy init)."""
    loops = _enclosing_loops(context, creation)
    if not loops or not flow.is_training_loop(loops[0]):
        return None
    innermost = loops[0]
    if _is_guarded(context, creation.call, innermost):
        return None
    params = creation.params
    if params is None or not _reads_a_name(params):
        return None
    if per_iteration.varies_in(semantic, params, innermost, made_by=creation.statement.node):
        return None
    return innermost


def _reads_a_name(expr: ast.expr) -> bool:
    """``SGD([])``: nothing to keep between iterations."""
    return any(isinstance(node, ast.Name) for node in flow.walk_local(expr))


def _is_guarded(context: RuleContext, node: ast.AST, loop: ast.stmt) -> bool:
    return per_iteration.guarded_within(SemanticModel.of(context.facts), node, loop)


# -- built in a function the training loop calls ------------------------------------------


def _reset_by_caller(
    rule: Rule,
    context: RuleContext,
    semantic: SemanticModel,
    creation: OptimizerCreation,
    name: str,
) -> Iterator[Finding]:
    """``def train(net, loader, epoch, opt=None): if opt is None: opt = Adam(...)``
    called as ``train(net, loader, epoch)`` by the epoch loop: a new optimizer per epoch."""
    function = context.facts.enclosing_function(creation.call)
    if function is None or creation.scope is not function or _enclosing_loops(context, creation):
        return
    default = _lazy_default(semantic, creation, function)
    if default is None or not _steps(function, creation.target):
        return
    depends_on = per_iteration.parameter_dependencies(semantic, creation.call, function)
    if depends_on is None:
        return
    for repeated in per_iteration.repeated_calls(semantic, function):
        call, loop = repeated.call, repeated.loop
        if per_iteration.passes_unknown_arguments(call):
            continue
        if default and per_iteration.argument_for(call, function, default) is not None:
            continue
        statement = context.facts.enclosing_statement(call)
        arguments = [per_iteration.argument_for(call, function, p) for p in depends_on]
        if statement is None or any(
            a is not None and per_iteration.varies_in(semantic, a, loop, made_by=statement)
            for a in arguments
        ):
            continue
        lazily = (
            f"; `{function.name}()` builds it when `{default}` is None, and this call never "
            f"passes `{default}`"
            if default
            else ""
        )
        yield rule.finding(
            context,
            creation.call,
            f"`{name}` is constructed in `{function.name}()`, which the training loop on line "
            f"{loop.lineno} calls on every iteration, {_RESET}{lazily}",
            related=[
                RelatedLocation(
                    context.source.span_of(call),
                    f"`{function.name}()` is called here on every iteration",
                )
            ],
        )
        return


def _lazy_default(
    semantic: SemanticModel, creation: OptimizerCreation, function: ast.AST
) -> str | None:
    """``""`` when the construction runs on every call of the function; the parameter's
    name for ``if opt is None: opt = ...`` with ``opt=None`` its default; None when a
    condition may skip it."""
    guards = [
        parent
        for parent in semantic.facts.ancestors(creation.call)
        if per_iteration.inside(semantic, parent, function)
        and parent is not function
        and isinstance(parent, per_iteration.GUARDS)
    ]
    if not guards:
        return ""
    (guard,) = guards if len(guards) == 1 else (None,)
    target = creation.target
    if not isinstance(guard, ast.If) or target is None or "." in target:
        return None
    if not any(per_iteration.inside(semantic, creation.call, s) for s in guard.body):
        return None
    test = guard.test
    is_none = (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == target
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.Is)
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value is None
    )
    if not is_none:
        return None
    defaults = [
        d.value
        for d in semantic.bindings(creation.scope).definitions.get(target, [])
        if d.kind == "parameter"
    ]
    if len(defaults) == 1 and isinstance(defaults[0], ast.Constant) and defaults[0].value is None:
        return target
    return None


def _steps(function: ast.AST, target: str | None) -> bool:
    """The function steps the optimizer it built (a local: gone when the call returns)."""
    if target is None or "." in target:
        return False
    return any(
        flow.method_name(call) == "step" and flow.dotted_name(call.func) == f"{target}.step"
        for call in flow.calls_in(function)
    )


def _hoist_fixes(
    context: RuleContext, semantic: SemanticModel, creation: OptimizerCreation
) -> Iterator[Fix]:
    """Move the statement above the outermost enclosing loop that does not rebind
    anything it reads."""
    statement = creation.statement
    node = statement.node
    source = context.source
    if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is not creation.call:
        return
    if not edits.owns_its_lines(source, node):
        return
    target_loop = None
    for loop in _enclosing_loops(context, creation):
        if (
            _is_guarded(context, creation.call, loop)
            or per_iteration.varies_in(semantic, creation.call, loop, made_by=node)
            or _target_rebound_in(semantic, node, loop)
        ):
            break
        target_loop = loop
    if target_loop is None or not _defined_before(semantic, creation.call, target_loop):
        return
    indent = source.indentation_of(target_loop.lineno - 1)
    moved = edits.reindented_lines(source, node, indent)
    if moved is None or source.line_text(target_loop.lineno - 1)[: len(indent)].strip():
        return
    yield Fix(
        f"Move the optimizer creation above the loop on line {target_loop.lineno}",
        FixSafety.UNSAFE,
        (
            edits.insert_before_edit(source, target_loop, moved),
            edits.owned_removal_edit(source, node, statement.block),
        ),
    )


def _target_rebound_in(semantic: SemanticModel, node: ast.stmt, loop: ast.stmt) -> bool:
    """Another statement of the loop binds what the creation is assigned to."""
    for target in flow.assigned_targets(node):
        if isinstance(target, ast.Name):
            scope = semantic.facts.enclosing_scope(node)
            definitions = semantic.bindings(scope).definitions.get(target.id, [])
            others = [d.statement for d in definitions if d.statement is not node]
        elif isinstance(target, ast.Attribute):
            stores = semantic.evaluator.heap.stores.get(target.attr, [])
            others = [
                s
                for t, s in stores
                if s is not node and per_iteration.may_be_one(semantic, t.value, target.value)
            ]
        else:
            return True
        if any(s is not None and per_iteration.inside(semantic, s, loop) for s in others):
            return True
    return False


def _defined_before(semantic: SemanticModel, call: ast.Call, loop: ast.stmt) -> bool:
    """Every name the construction reads is bound before the loop starts: an earlier
    statement, a parameter, an import; in a function also a module-level name or a
    builtin the file does not rebind."""
    facts = semantic.facts
    scope = facts.enclosing_scope(loop)
    bindings = semantic.bindings(scope)
    order = bindings.statements[loop].order if loop in bindings.statements else -1
    module = semantic.bindings(facts.tree)
    for name in (n for n in flow.walk_local(call) if isinstance(n, ast.Name)):
        if per_iteration.bound_inside(name, call):
            continue
        if bindings.is_local(name.id):
            if not any(d.order < order for d in bindings.reaching(name.id, loop)):
                return False
        elif scope is not facts.tree and module.definitions.get(name.id):
            continue
        elif name.id not in per_iteration.BUILTINS or name.id in module.definitions:
            return False
    return True


RULE = Rule(
    code="GG103",
    name="optimizer-in-loop",
    summary="Optimizer constructed inside a training loop, resetting its state every iteration",
    severity=Severity.WARNING,
    fix_availability=FixAvailability.SOMETIMES,
    doc=__doc__ or "",
    check_function=check,
    example_outcome=Silent(
        check="assert optimizer.state[next(iter(model.parameters()))]['step'].item() == 1"
    ),
    use_instead_check=(
        "assert optimizer.state[next(iter(model.parameters()))]['step'].item() == 3"
    ),
)
