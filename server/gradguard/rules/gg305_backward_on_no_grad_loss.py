"""## What it does
Checks for `backward()` on a loss computed while gradient recording was off: under
`with torch.no_grad():`, `with torch.inference_mode():`,
`with torch.set_grad_enabled(False):`, after a global `torch.set_grad_enabled(False)`,
or returned by a same-file function decorated with `@torch.no_grad()`. Also checks for
the common wrong "fix" of the resulting error: `loss.requires_grad = True` (or, on a
loss computed without grad, `loss.requires_grad_()`) before `loss.backward()`.

A `backward()` inside `no_grad` on a loss computed outside it, manual updates under
`no_grad`, validation losses that are never backward-ed, an `enable_grad()` nested in
the `no_grad` block and `set_grad_enabled(<a variable>)` are not reported.

## Why is this bad?
`no_grad` stops autograd from recording the forward pass, so the loss is not connected
to any parameter. Calling `backward()` on it fails; making it require grad afterwards
silences the error but still computes no gradient for any parameter: the model never
trains.

## What PyTorch does
A tensor computed under `no_grad`, `inference_mode` or `set_grad_enabled(False)` has
`requires_grad=False` and no `grad_fn`, and `backward()` raises
`RuntimeError: element 0 of tensors does not require grad and does not have a grad_fn`.
A `backward()` inside `no_grad` on a loss built outside it works (`no_grad` only affects
recording).
`loss.requires_grad = True` on such a loss makes it a leaf: `backward()` then runs, sets
only `loss.grad = tensor(1.)`, and every parameter's `.grad` stays `None`. On a loss
that does require grad the same assignment raises `RuntimeError: you can only change
requires_grad flags of leaf variables.` (measured on torch 2.13.0).

## Example
```python
import torch
from torch import nn

model = nn.Linear(3, 1)
x, y = torch.randn(8, 3), torch.randn(8, 1)

with torch.no_grad():
    loss = nn.functional.mse_loss(model(x), y)
loss.backward()
```

## Use instead
```python
import torch
from torch import nn

model = nn.Linear(3, 1)
x, y = torch.randn(8, 3), torch.randn(8, 1)

loss = nn.functional.mse_loss(model(x), y)
loss.backward()
```

## Fix safety
There is no automatic fix: the forward pass has to move out of the `no_grad` block (or
the `backward()` call out of the evaluation code), which only the author can decide.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradguard.analysis import flow
from gradguard.analysis.tensors import factory_name
from gradguard.findings import Finding, RelatedLocation, Severity
from gradguard.rules.base import FixAvailability, Raises, Rule, RuleContext
from gradguard.semantic import backwards, grad_mode, grad_values
from gradguard.semantic.grad_values import NoGrad
from gradguard.semantic.step_queries import describe, is_before

_RAISES = "RuntimeError: element 0 of tensors does not require grad and does not have a grad_fn"
# Calls whose result is usually a fresh leaf that the code means to make require grad.
_LEAF_MAKERS = frozenset(
    {"clone", "detach", "to", "cpu", "cuda", "float", "double", "half", "contiguous", "type"}
    | {"new_tensor", "new_zeros", "new_ones", "new_empty", "new_full"}
)
_LEAF_FUNCTIONS = frozenset({"torch.from_numpy", "torch.as_tensor", "torch.Tensor"})
_TURNED_OFF = "gradient recording turned off here"
_LEAF_ONLY = "RuntimeError: you can only change requires_grad flags of leaf variables."


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    facts = context.facts
    settings: list[tuple[ast.stmt, str, bool]] = []
    if facts.mentions("requires_grad"):
        for node in facts.nodes_of_types(ast.Assign, ast.Expr):
            setting = grad_values.requires_grad_setting(facts, node)  # type: ignore[arg-type]
            if setting is not None:
                settings.append((node, *setting))  # type: ignore[arg-type]
    switches = any(facts.mentions(w) for w in ("no_grad", "inference_mode", "set_grad_enabled"))
    for node in backwards.backward_calls(facts) if switches else ():
        subject = backwards.backward_subject(node)
        statement = facts.enclosing_statement(node)
        if subject is None or statement is None or grad_mode.expects_an_error(facts, node):
            continue
        reason = grad_values.computed_without_grad(facts, subject, statement)
        if reason is not None:
            yield _backward_finding(rule, context, node, reason)
    for statement, name, assignment in settings:
        found = _wrong_fix(rule, context, statement, name, assignment)
        if found is not None:
            yield found


def _backward_finding(rule: Rule, context: RuleContext, call: ast.Call, reason: NoGrad) -> Finding:
    source = context.source
    subject = backwards.backward_subject(call)
    receiver = describe(source.node_text(subject), "the loss") if subject else "the loss"
    switch = describe(source.node_text(reason.switch), "`torch.no_grad()`")
    message = (
        f"{receiver} is computed under {switch} (line {_line(reason.switch)}): it does not "
        f"require grad and has no `grad_fn`, so {describe(source.node_text(call), '`backward()`')} "
        f"raises `{_RAISES}`"
    )
    related = [RelatedLocation(source.span_of(reason.switch), _TURNED_OFF)]
    return rule.finding(context, call, message, related=related)


def _wrong_fix(
    rule: Rule, context: RuleContext, statement: ast.stmt, name: str, assignment: bool
) -> Finding | None:
    facts, source = context.facts, context.source
    backward = _later_backward(context, statement, name)
    if backward is None:
        return None
    setting = describe(source.node_text(statement), "setting `requires_grad`")
    call = describe(source.node_text(backward), "`backward()`")
    reason = grad_values.computed_without_grad(facts, ast.Name(name, ast.Load()), statement)
    if reason is not None:
        switch = describe(source.node_text(reason.switch), "`torch.no_grad()`")
        message = (
            f"{setting} hides the error of a loss computed under {switch} (line "
            f"{_line(reason.switch)}): `{name}` becomes a leaf, {call} runs but trains "
            "nothing: no parameter gets a `.grad`"
        )
        related = [RelatedLocation(source.span_of(reason.switch), _TURNED_OFF)]
        return rule.finding(context, statement, message, related=related)
    if not assignment or not _computed(context, name, statement):
        return None
    message = (
        f"{setting} before {call} never trains the model: if `{name}` was computed with "
        f"grad, the assignment raises `{_LEAF_ONLY}`; if not, `{name}` becomes a leaf and "
        "backward runs but no parameter gets a `.grad`"
    )
    return rule.finding(context, statement, message, severity=Severity.ERROR)


def _later_backward(context: RuleContext, statement: ast.stmt, name: str) -> ast.Call | None:
    """``name.backward()`` after ``statement`` in its scope, with ``name`` not rebound."""
    facts = context.facts
    scope = facts.enclosing_scope(statement)
    for info in facts.statements_of(scope):
        if not is_before(statement, info.node):
            continue
        for node in flow.own_nodes(info.node):
            subject = backwards.backward_subject(node) if isinstance(node, ast.Call) else None
            if subject is not None and _reads_only(subject, name):
                bindings = grad_values.reaching(facts, name, info.node) or []
                if all(is_before(b.statement, statement) for b in bindings):
                    return node  # type: ignore[return-value]
    return None


def _reads_only(expr: ast.AST, name: str) -> bool:
    """``name``, ``scaler.scale(name)``, ``name / k``, ``name.mean()``."""
    if isinstance(expr, ast.Name):
        return expr.id == name
    if isinstance(expr, ast.Call) and flow.method_name(expr) == "scale" and len(expr.args) == 1:
        return _reads_only(expr.args[0], name)
    if isinstance(expr, ast.BinOp):
        return _reads_only(expr.left, name) and isinstance(expr.right, (ast.Constant, ast.Name))
    return False


def _computed(context: RuleContext, name: str, statement: ast.stmt) -> bool:
    """Every binding of ``name`` reaching ``statement`` is a computation, not a leaf
    the code creates on purpose (a factory, a parameter, a name or attribute)."""
    bindings = grad_values.reaching(context.facts, name, statement)
    if not bindings:
        return False
    for binding in bindings:
        value = binding.value
        if isinstance(value, ast.BinOp):
            continue
        if not isinstance(value, ast.Call) or factory_name(context.facts, value):
            return False
        if context.facts.is_parameter_call(value) or flow.method_name(value) in _LEAF_MAKERS:
            return False
        if (context.facts.qualify(value.func) or "") in _LEAF_FUNCTIONS:
            return False
    return True


def _line(node: ast.AST) -> int:
    return getattr(node, "lineno", 0)


RULE = Rule(
    code="GG305",
    name="backward-on-no-grad-loss",
    summary="`backward()` on a loss computed under `no_grad` (or made to require grad afterwards)",
    severity=Severity.ERROR,
    fix_availability=FixAvailability.NONE,
    doc=__doc__ or "",
    check_function=check,
    example_outcome=Raises("RuntimeError", "element 0 of tensors does not require grad"),
    use_instead_check="assert model.weight.grad is not None",
    required_words=("backward",),
    required_text=r"no_grad|inference_mode|set_grad_enabled|requires_grad",
)
