"""## What it does
Checks for optimizers constructed inside the body of a training loop (a loop that also
calls `backward()` or `step()`), so that a new optimizer replaces the previous one on
every iteration.

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
from gradguard.analysis.names import any_overlap, bound_chains, loaded_chains, repeats_in
from gradguard.analysis.optimizers import OptimizerCreation
from gradguard.findings import Finding, Fix, FixSafety, Severity
from gradguard.rules.base import FixAvailability, Rule, RuleContext, Silent

# Statements between the loop and the creation that make the creation conditional.
_GUARDS = (ast.If, ast.Match, ast.ExceptHandler)


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    # jedi is asked whether a call builds an optimizer only when it would be reported.
    return context.optimizers.findings_of_each(lambda c: _check_creation(rule, context, c))


def _check_creation(
    rule: Rule, context: RuleContext, creation: OptimizerCreation
) -> Iterator[Finding]:
    loop = _reset_loop(context, creation)
    if loop is None:
        return
    name = flow.dotted_name(creation.call.func) or "The optimizer"
    fixes = tuple(_hoist_fixes(context, creation, loop))
    yield rule.finding(
        context,
        creation.call,
        f"`{name}` is constructed inside the training loop on line {loop.lineno}, so a "
        "new optimizer with empty state (momentum, Adam moments, step count) replaces "
        "the previous one on every iteration",
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


def _reset_loop(context: RuleContext, creation: OptimizerCreation) -> ast.stmt | None:
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
    if params is None:
        return None
    reads = loaded_chains(params)
    if not reads:
        return None
    if any_overlap(reads, _bound_in(innermost)):
        return None
    return innermost


def _is_guarded(context: RuleContext, node: ast.AST, loop: ast.stmt) -> bool:
    """An ``if``, ``match``, ``except`` or conditional expression between the loop and
    the node: the construction may not run on every iteration."""
    for parent in context.facts.ancestors(node):
        if parent is loop:
            return False
        if isinstance(parent, (*_GUARDS, ast.IfExp, ast.BoolOp)):
            return True
    return False


def _bound_in(loop: ast.stmt) -> set[str]:
    """Dotted names bound anywhere in the loop, its own target included."""
    bound: set[str] = set()
    for node in flow.walk_local(loop):
        if isinstance(node, ast.stmt):
            bound |= bound_chains(node)
        elif isinstance(node, ast.comprehension):
            continue
    return bound


def _hoist_fixes(
    context: RuleContext, creation: OptimizerCreation, innermost: ast.stmt
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
    reads = loaded_chains(creation.call)
    targets = bound_chains(node)
    target_loop = None
    for loop in _enclosing_loops(context, creation):
        bound = _bound_in(loop) - targets
        if any_overlap(reads, bound) or _is_guarded(context, creation.call, loop):
            break
        if _target_rebound_elsewhere(loop, node, targets):
            break
        target_loop = loop
    if target_loop is None or not _defined_before(context, creation, target_loop, reads):
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


def _target_rebound_elsewhere(loop: ast.stmt, node: ast.stmt, targets: set[str]) -> bool:
    for other in flow.walk_local(loop):
        if (
            isinstance(other, ast.stmt)
            and other is not node
            and other is not loop
            and any_overlap(targets, bound_chains(other))
        ):
            return True
    return False


def _defined_before(
    context: RuleContext, creation: OptimizerCreation, loop: ast.stmt, reads: set[str]
) -> bool:
    """Every name the construction reads is bound before the loop: an import, a
    function parameter, a module-level binding, a builtin, or an earlier statement."""
    roots = {chain.split(".")[0] for chain in reads}
    statements = context.facts.statements_of(creation.scope)
    loop_info = next((s for s in statements if s.node is loop), None)
    if loop_info is None:
        return False
    bound: set[str] = set()
    for info in statements[: loop_info.order]:
        bound |= {chain.split(".")[0] for chain in bound_chains(info.node)}
    scope = creation.scope
    if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
        arguments = scope.args
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        bound |= {a.arg for a in every}
        bound |= {a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None}
        bound |= _module_level_names(context)
        if isinstance(context.facts.parents.get(scope), ast.ClassDef):
            bound.add("__class__")
    import builtins

    for root in roots:
        if root in bound or root in context.facts.imports.aliases:
            continue
        if hasattr(builtins, root) and root not in _bound_anywhere(statements):
            continue
        return False
    return True


def _module_level_names(context: RuleContext) -> set[str]:
    # Once per file (it was a walk of the module per hoist fix).
    cached: set[str] | None = context.__dict__.get("_gg103_module_level_names")
    if cached is None:
        cached = set()
        for info in context.facts.statements_of(context.facts.tree):
            cached |= {chain.split(".")[0] for chain in bound_chains(info.node)}
        context.__dict__["_gg103_module_level_names"] = cached
    return set(cached)


def _bound_anywhere(statements: list[flow.StatementInfo]) -> set[str]:
    names: set[str] = set()
    for info in statements:
        names |= {chain.split(".")[0] for chain in bound_chains(info.node)}
    return names


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
