"""## What it does
Checks for tensors meant to be trained that are not leaves: a factory or
`torch.tensor(...)` with `requires_grad=True`, or `x.requires_grad_()`, followed by
`.to()`, `.cuda()`, `.float()`, `.double()`, `.type()`, `* k`, `.unsqueeze()`, `.view()`
and the like, in the same expression or by rebinding the name
(`w = torch.randn(3, requires_grad=True); w = w.to(device)`). Also checks for `.grad`
read on a name bound to a computed (non-leaf) tensor that never called `retain_grad()`,
including one a same-file function or method returns (`t = scaler.temperature()` where
`temperature()` returns `self.log_t.exp()`).

## Why is this bad?
`requires_grad=True` makes a leaf, and autograd fills `.grad` only on leaves. Any
operation applied afterwards returns a new tensor with a `grad_fn`: a non-leaf. The
program keeps the non-leaf, so its `.grad` stays `None` after backward() (the leaf
before it receives the gradient, but nothing refers to it), and an optimizer refuses it.
Conversions such as `.to(device)`, `.float()` or `.cpu()` return the tensor itself when
the dtype and device already match, so the bug can hide on CPU and appear on a GPU.

## What PyTorch does
`w = torch.randn(3, requires_grad=True).to(torch.float64)` (or `* 0.01`, `.cuda()`) is a
non-leaf: after `backward()`, reading `w.grad` emits `UserWarning: The .grad attribute of
a Tensor that is not a leaf Tensor is being accessed` and returns `None`, so
`w.grad.zero_()` raises `AttributeError: 'NoneType' object has no attribute 'zero_'`.
`torch.optim.SGD([torch.randn(3, requires_grad=True).double()], lr=0.1)` raises
`ValueError: can't optimize a non-leaf Tensor`. `x.requires_grad_(True).unsqueeze(0)` is a
non-leaf too. `(torch.randn(3) * 0.01).requires_grad_()` is a leaf and works, as does
`torch.randn(3, dtype=torch.float64, device=device, requires_grad=True)`.

## Example
```python
import torch

x = torch.randn(16, 3, dtype=torch.float64)
y = torch.randn(16, dtype=torch.float64)
w = torch.randn(3, requires_grad=True).to(torch.float64)
optimizer = torch.optim.SGD([w], lr=0.1)

for step in range(2):
    optimizer.zero_grad()
    loss = ((x @ w - y) ** 2).mean()
    loss.backward()
    optimizer.step()
```

## Use instead
```python
import torch

x = torch.randn(16, 3, dtype=torch.float64)
y = torch.randn(16, dtype=torch.float64)
w = torch.randn(3, dtype=torch.float64, requires_grad=True)
optimizer = torch.optim.SGD([w], lr=0.1)

for step in range(2):
    optimizer.zero_grad()
    loss = ((x @ w - y) ** 2).mean()
    loss.backward()
    optimizer.step()
```

## Fix safety
When the conversion's dtype and device are literal arguments (`.to(torch.float64)`,
`.to("cuda")`, `.cuda()`, `.double()`), the fix passes them to the factory call as
`dtype=` / `device=` and removes the conversion; otherwise it removes
`requires_grad=True` from the factory and calls `.requires_grad_()` last, as in
`(torch.randn(3) * 0.01).requires_grad_()`. Both are safe: the values are the same and
the tensor becomes the leaf it was meant to be. For a rebinding they are offered only
when it directly follows the creation. No fix is offered for `x.requires_grad_()` on a
named tensor (moving the call would stop `x` itself from requiring grad) or for a
`.grad` read (call `retain_grad()`, or read the leaf's `.grad`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradguard.analysis import flow
from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.tensors import (
    Binding,
    Kind,
    Origin,
    chain_top,
    is_grad_factory,
    is_leaf_update,
    name_assignments,
    non_leaf_creation_at,
    non_leaf_operation,
    operation_text,
    retained_names,
)
from gradguard.findings import Finding, Severity
from gradguard.rules.base import FixAvailability, Raises, Rule, RuleContext
from gradguard.rules.non_leaf_fixes import expression_fixes, rebinding_fixes
from gradguard.semantic.tensor_kinds import TensorKinds

_REDUCTIONS = frozenset({"sum", "mean"})


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    yield from _creations_in_expressions(rule, context)
    facts = context.facts
    kinds = TensorKinds.of(facts)
    for scope in facts.scopes_holding(_grad_spellings(facts)):
        yield from _rebindings_and_reads(rule, context, kinds, scope)


def _grad_spellings(facts: ModuleFacts) -> Iterator[ast.AST]:
    """Findings of a scope's bindings need a ``.grad`` read there, or a tensor made to
    require grad there: only their scopes are looked at."""
    for node in facts.nodes_of(ast.Attribute):
        if node.attr in ("grad", "requires_grad", "requires_grad_"):  # type: ignore[attr-defined]
            yield node
    for node in facts.nodes_of(ast.keyword):
        if node.arg == "requires_grad":  # type: ignore[attr-defined]
            yield node


# -- creation and conversion in one expression --------------------------------------


def _creations_in_expressions(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    # A creation is always a call: the file's calls, in ``ast.walk`` order.
    for node in context.facts.nodes_of(ast.Call):
        creation = non_leaf_creation_at(context.facts, node)
        if creation is None or _reduced_at_once(creation.operation):
            continue
        factory = is_grad_factory(context.facts, node)
        marker = "`requires_grad=True`" if factory else "`.requires_grad_()`"
        yield rule.finding(
            context,
            creation.operation,
            _creation_message(creation.operation, creation.conversion, marker),
            fixes=expression_fixes(context, creation),
        )


def _reduced_at_once(operation: ast.expr) -> bool:
    """``torch.rand(10, requires_grad=True).mean()``: the first operation reduces the fresh
    tensor to a value (a loss-like scalar for a test or a demo); nothing there is meant to
    be trained as a parameter."""
    return isinstance(operation, ast.Call) and flow.method_name(operation) in _REDUCTIONS


def _creation_message(operation: ast.expr, conversion: bool, marker: str) -> str:
    what = (
        "a non-leaf copy whenever it changes the dtype or device"
        if conversion
        else "a non-leaf tensor"
    )
    return (
        f"{operation_text(operation)} applied after {marker} returns {what}: its `.grad` "
        f"stays None after backward() (reading it warns) and optimizers reject it with "
        f"`ValueError: can't optimize a non-leaf Tensor`"
    )


# -- rebinding and .grad reads -------------------------------------------------------


def _rebindings_and_reads(
    rule: Rule, context: RuleContext, kinds: TensorKinds, scope: flow.Scope
) -> Iterator[Finding]:
    facts = context.facts
    retained = retained_names(scope) if context.facts.mentions("retain_grad") else set()
    for info in facts.statements_of(scope):
        yield from _grad_reads(rule, context, kinds, info.node, retained)
        for target, value in name_assignments(info.node):
            if _operation_on_name(facts, target.id, value, None) is None:
                continue  # no operation on the name: nothing to ask
            binding = kinds.before(target.id, info.node)
            if binding is None or not _trained_tensor(binding):
                continue
            if is_leaf_update(target.id, value, binding, info):
                continue  # GG302's business
            if flow.is_under_no_grad(info, facts.parents):
                continue
            operation = _operation_on_name(facts, target.id, value, binding)
            if operation is None:
                continue
            factory = binding.origin is Origin.FACTORY
            marker = "`requires_grad=True`" if factory else "`requires_grad`"
            yield rule.finding(
                context,
                operation[0],
                _creation_message(operation[0], operation[1], marker),
                fixes=rebinding_fixes(context, info, target.id, value, binding, operation[0]),
            )


def _trained_tensor(binding: Binding) -> bool:
    """A leaf made to require grad, or the non-leaf reported where it was created
    (each further operation needs fixing too)."""
    if binding.kind is Kind.COMPUTED:
        return binding.origin is Origin.FACTORY
    return binding.kind is Kind.GRAD_LEAF and binding.origin in (
        Origin.FACTORY,
        Origin.REQUIRES_GRAD_CALL,
        Origin.OTHER,
    )


def _operation_on_name(
    facts: ModuleFacts, name: str, value: ast.expr, binding: Binding | None
) -> tuple[ast.expr, bool] | None:
    """The non-leaf operation applied to ``name`` whose chain makes up the whole value
    (with no binding: any such operation)."""
    for node in flow.walk_local(value):
        if not (isinstance(node, ast.Name) and node.id == name):
            continue
        operation = non_leaf_operation(node, facts.parents)
        if operation is None or chain_top(node, facts.parents) is not value:
            continue
        ambiguous = operation[1] or isinstance(operation[0], ast.Subscript)
        if binding is not None and binding.origin is Origin.OTHER and ambiguous:
            continue  # it might be a module: `.to()`/`[i]` exist there too
        return operation
    return None


def _grad_reads(
    rule: Rule,
    context: RuleContext,
    kinds: TensorKinds,
    stmt: ast.stmt,
    retained: set[str],
) -> Iterator[Finding]:
    for node in flow.own_nodes(stmt):
        if not (
            isinstance(node, ast.Attribute)
            and node.attr == "grad"
            and isinstance(node.ctx, ast.Load)
            and isinstance(node.value, ast.Name)
        ):
            continue
        name = node.value.id
        if name in retained:
            continue
        binding = kinds.before(name, stmt)
        if binding is None or binding.kind is not Kind.COMPUTED or binding.already_reported:
            continue
        yield rule.finding(
            context,
            node,
            f"`{name}` is computed from tensors that require grad, so it is not a leaf: "
            f"backward() does not populate `{name}.grad`, and reading it warns and returns "
            f"None (call `{name}.retain_grad()` before backward() to keep it)",
        )


RULE = Rule(
    code="GG303",
    name="non-leaf-parameter",
    summary="A tensor meant to be trained is not a leaf (an operation follows `requires_grad`)",
    severity=Severity.WARNING,
    fix_availability=FixAvailability.SOMETIMES,
    doc=__doc__ or "",
    check_function=check,
    example_outcome=Raises("ValueError", "can't optimize a non-leaf Tensor"),
    use_instead_check="assert w.is_leaf and w.grad is not None",
    # Every finding needs `requires_grad` or a `.grad` read (`x . grad` too).
    required_text=r"requires_grad|\.[\s\\]*grad",
    required_words=("grad",),
    required_text_shortcuts=("requires_grad", ".grad"),
)
