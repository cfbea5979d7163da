"""## What it does
Checks for manual parameter updates that rebind the name of a leaf tensor that
requires grad, such as `w = w - lr * w.grad` (also with `+` or `*`, in method form
`w = w.sub(lr * w.grad)`, with `w.data` on the right, and under `torch.no_grad()`).

## Why is this bad?
The assignment does not update the tensor that autograd fills: it builds a new tensor
and binds the name to it. Outside `no_grad` the new `w` is a non-leaf, so backward()
no longer populates `w.grad`; under `no_grad` it is a new tensor that does not require
grad at all. Either way `w.grad` is `None` after the update, and the next
`w.grad.zero_()` or the next update fails. Rebinding the loop variable of
`for p in model.parameters()` leaves the parameter itself unchanged.

## What PyTorch does
After `w = w - lr * w.grad`, reading `w.grad` emits `UserWarning: The .grad attribute of
a Tensor that is not a leaf Tensor is being accessed` and returns `None`, so
`w.grad.zero_()` raises `AttributeError: 'NoneType' object has no attribute 'zero_'` in
the first iteration; without the `zero_()`, the next update raises
`TypeError: unsupported operand type(s) for *: 'float' and 'NoneType'`. Under
`torch.no_grad()` there is no warning, but `w.grad` is `None` all the same and the next
`backward()` of a loss computed only from `w` raises `RuntimeError: element 0 of tensors
does not require grad and does not have a grad_fn`. An in-place update under
`no_grad` (`w -= lr * w.grad`) keeps `w` a leaf; `w -= ...` outside `no_grad` raises
`RuntimeError: a leaf Variable that requires grad is being used in an in-place operation.`

## Example
```python
import torch

x = torch.randn(16, 3)
y = x @ torch.tensor([1.0, -2.0, 0.5])
w = torch.randn(3, requires_grad=True)
lr = 0.1

for step in range(3):
    loss = ((x @ w - y) ** 2).mean()
    loss.backward()
    w = w - lr * w.grad
    w.grad.zero_()
```

## Use instead
```python
import torch

x = torch.randn(16, 3)
y = x @ torch.tensor([1.0, -2.0, 0.5])
w = torch.randn(3, requires_grad=True)
lr = 0.1

for step in range(3):
    loss = ((x @ w - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= lr * w.grad
    w.grad.zero_()
```

## Fix safety
The fix rewrites `w = w - <expr>` (or `w + <expr>`) as `w -= <expr>` (`+=`) inside
`with torch.no_grad():` (or just as `w -= <expr>` when the statement is already under
`no_grad`), keeping the statement's indentation. It is unsafe: the tensor is now
updated in place, so every other reference to it (an optimizer, a list, a closure)
sees the new values, which is usually the intent but changes behaviour. It is offered
only for that exact shape of the right-hand side and only when the statement has its
lines to itself.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradguard.analysis import flow
from gradguard.analysis.edits import indent_unit, owns_its_lines
from gradguard.analysis.spelling import no_grad_call
from gradguard.analysis.tensors import (
    arithmetic_terms,
    has_update_shape,
    is_leaf_update,
    is_name_or_data,
    is_requires_grad_call,
    is_true,
    leaf_update_by_syntax,
    name_assignments,
)
from gradguard.findings import Finding, Fix, FixSafety, Severity
from gradguard.rules.base import FixAvailability, Raises, Rule, RuleContext
from gradguard.semantic.tensor_kinds import TensorKinds


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    facts = context.facts
    kinds = TensorKinds.of(facts)
    # Only statements shaped like an update need to know what their name holds.
    for node in facts.nodes_of_types(ast.Assign, ast.AnnAssign):
        assert isinstance(node, (ast.Assign, ast.AnnAssign))
        for target, value in name_assignments(node):
            name = target.id
            if not has_update_shape(name, value):
                continue
            scope = facts.enclosing_scope(node)
            statements = facts.statements_of(scope)
            info = kinds.semantic.bindings(scope).statements.get(node)
            if info is None:
                continue
            settled = leaf_update_by_syntax(name, value, info)
            if settled is None:
                settled = is_leaf_update(name, value, kinds.before(name, node), info)
            if not settled:
                continue
            under_no_grad = flow.is_under_no_grad(info, facts.parents)
            if _leaf_restored_after(statements, info, name, under_no_grad):
                continue
            detached = under_no_grad or _only_data_terms(name, value)
            yield rule.finding(
                context,
                info.node,
                _message(name, _is_loop_variable(info, name), under_no_grad, detached),
                fixes=_fixes(context, info.node, name, value, under_no_grad),
            )


def _only_data_terms(name: str, value: ast.expr) -> bool:
    """``w.data - lr * w.grad``: every term naming ``w`` goes through ``.data``."""
    terms = [t for t in arithmetic_terms(value) if is_name_or_data(t, name)]
    return all(isinstance(t, ast.Attribute) for t in terms)


def _is_loop_variable(info: flow.StatementInfo, name: str) -> bool:
    """``name`` is the target of a ``for`` loop around the statement."""
    return any(
        isinstance(loop, (ast.For, ast.AsyncFor))
        and isinstance(loop.target, ast.Name)
        and loop.target.id == name
        for loop in info.loops
    )


def _message(name: str, loop_variable: bool, under_no_grad: bool, detached: bool) -> str:
    if loop_variable:
        return (
            f"`{name} = ...` rebinds the loop variable to a new tensor, so the tensor being "
            f"iterated over (the parameter itself) is never updated"
        )
    if detached:
        where = " under `no_grad`" if under_no_grad else ""
        return (
            f"`{name} = ...`{where} rebinds `{name}` to a new tensor that does not "
            f"require grad, so `{name}.grad` is None from now on and backward() no longer "
            f"reaches it"
        )
    return (
        f"`{name} = ...` rebinds `{name}` to a non-leaf tensor, so backward() no longer "
        f"populates `{name}.grad`: reading it warns and returns None"
    )


def _leaf_restored_after(
    statements: list[flow.StatementInfo], info: flow.StatementInfo, name: str, under_no_grad: bool
) -> bool:
    """The code makes ``name`` a trainable leaf again before its next ``.grad`` read:
    ``w.requires_grad_()`` after a ``no_grad`` rebinding, ``w = w.detach()...`` otherwise."""
    loop = info.loops[-1] if info.loops else None
    for later in statements[info.order + 1 :]:
        if loop is not None and loop not in later.loops:
            return False
        stmt = later.node
        if under_no_grad and _sets_requires_grad(stmt, name):
            return True
        if not under_no_grad and _detaches(stmt, name):
            return True
        if flow.assigns_name(stmt, name) or _reads_grad(stmt, name):
            return False
    return False


def _sets_requires_grad(stmt: ast.stmt, name: str) -> bool:
    if isinstance(stmt, ast.Expr) and is_requires_grad_call(stmt.value):
        receiver = stmt.value.func.value  # type: ignore[attr-defined]
        return isinstance(receiver, ast.Name) and receiver.id == name
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and is_true(stmt.value):
        target = stmt.targets[0]
        return (
            isinstance(target, ast.Attribute)
            and target.attr == "requires_grad"
            and isinstance(target.value, ast.Name)
            and target.value.id == name
        )
    return False


def _detaches(stmt: ast.stmt, name: str) -> bool:
    for node in flow.own_nodes(stmt):
        if (
            isinstance(node, ast.Call)
            and flow.method_name(node) in ("detach", "detach_")
            and isinstance(node.func.value, ast.Name)  # type: ignore[attr-defined]
            and node.func.value.id == name  # type: ignore[attr-defined]
        ):
            return True
    return False


def _reads_grad(stmt: ast.stmt, name: str) -> bool:
    return any(
        isinstance(node, ast.Attribute)
        and node.attr == "grad"
        and isinstance(node.value, ast.Name)
        and node.value.id == name
        for node in flow.own_nodes(stmt)
    )


def _fixes(
    context: RuleContext, stmt: ast.stmt, name: str, value: ast.expr, under_no_grad: bool
) -> tuple[Fix, ...]:
    """``with torch.no_grad(): w -= <expr>`` for exactly ``w = w - <expr>`` / ``w + <expr>``."""
    if not (
        isinstance(stmt, ast.Assign)
        and isinstance(stmt.targets[0], ast.Name)
        and isinstance(value, ast.BinOp)
        and isinstance(value.op, (ast.Sub, ast.Add))
        and isinstance(value.left, ast.Name)
        and value.left.id == name
    ):
        return ()
    source = context.source
    operator = "-=" if isinstance(value.op, ast.Sub) else "+="
    update = f"{name} {operator} {source.node_text(value.right)}"
    if under_no_grad:
        title = f"Update `{name}` in place with `{operator}`"
        return (Fix(title, FixSafety.UNSAFE, (source.replace(stmt, update),)),)
    no_grad = no_grad_call(context.facts)
    if no_grad is None or not owns_its_lines(source, stmt):
        return ()
    indent = source.indentation_of(stmt.lineno - 1)
    unit = indent_unit(source, stmt)
    text = f"with {no_grad}:{source.newline}{indent}{unit}{update}"
    title = f"Update `{name}` in place under `{no_grad}`"
    return (Fix(title, FixSafety.UNSAFE, (source.replace(stmt, text),)),)


RULE = Rule(
    code="GG302",
    name="leaf-rebound-by-update",
    summary="A manual update rebinds a leaf tensor that requires grad (`w = w - lr * w.grad`)",
    severity=Severity.ERROR,
    fix_availability=FixAvailability.SOMETIMES,
    doc=__doc__ or "",
    check_function=check,
    example_outcome=Raises("AttributeError", "'NoneType' object has no attribute 'zero_'"),
    use_instead_check="assert w.is_leaf and w.requires_grad and w.grad is not None",
    # An update reads `.grad`, or rebinds a leaf made by `requires_grad`, `nn.Parameter`
    # or a `parameters()` loop.
    required_words=("grad", "Parameter", "parameters"),
)
