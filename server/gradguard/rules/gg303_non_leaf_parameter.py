"""## What it does
Checks for tensors meant to be trained that are not leaves: a factory or
`torch.tensor(...)` with `requires_grad=True`, or `x.requires_grad_()`, followed by
`.to()`, `.cuda()`, `.float()`, `.double()`, `.type()`, `* k`, `.unsqueeze()`, `.view()`
and the like, in the same expression or by rebinding the name
(`w = torch.randn(3, requires_grad=True); w = w.to(device)`). Also checks for `.grad`
read on a name bound to a computed (non-leaf) tensor that never called `retain_grad()`.

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
import re
from collections.abc import Iterator

from gradguard.analysis import flow
from gradguard.analysis.edits import owns_its_lines
from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.parameters import torch_name
from gradguard.analysis.tensors import (
    Binding,
    Kind,
    NonLeafCreation,
    Origin,
    chain_top,
    is_grad_factory,
    is_leaf_update,
    keyword_of,
    name_assignments,
    non_leaf_creation_at,
    non_leaf_operation,
    operation_text,
    retained_names,
)
from gradguard.findings import Finding, Fix, FixSafety, Position, Severity, Span, TextEdit
from gradguard.rules.base import FixAvailability, Raises, Rule, RuleContext
from gradguard.semantic.catalogue.tensors import MOVE_AND_CAST_METHODS, SHAPE_AND_SCALE_METHODS
from gradguard.semantic.tensor_kinds import TensorKinds
from gradguard.source import SourceFile

_DTYPE_OF_METHOD = {
    "double": "float64",
    "float": "float32",
    "half": "float16",
    "bfloat16": "bfloat16",
}
_DTYPES = frozenset(
    {
        "float16",
        "float32",
        "float64",
        "bfloat16",
        "half",
        "float",
        "double",
        "complex64",
        "complex128",
        "cfloat",
        "cdouble",
    }
)
_DEVICE_STRING = re.compile(r"^(cpu|cuda|mps|xpu|meta)(:\d+)?$")
# Where ``(<expr>).requires_grad_()`` may replace ``<expr>``: the value is kept as is
# (bound, stored, returned), not fed into a larger computation.
_KEEPING_PARENTS = (
    ast.Assign,
    ast.AnnAssign,
    ast.List,
    ast.Tuple,
    ast.Set,
    ast.ListComp,
    ast.SetComp,
    ast.GeneratorExp,
    ast.Dict,
    ast.DictComp,
    ast.Return,
)
_ATOMS = (ast.Call, ast.Attribute, ast.Subscript, ast.Name)
_REDUCTIONS = frozenset({"sum", "mean"})
_RESHAPING_METHODS = MOVE_AND_CAST_METHODS | SHAPE_AND_SCALE_METHODS


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
            fixes=_expression_fixes(context, creation),
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


def _expression_fixes(context: RuleContext, creation: NonLeafCreation) -> tuple[Fix, ...]:
    facts, source = context.facts, context.source
    leaf, operation = creation.leaf, creation.operation
    if is_grad_factory(facts, leaf):
        assert isinstance(leaf, ast.Call)
        if creation.top is operation:
            moved = _move_into_factory(facts, source, leaf, operation)
            if moved is not None:
                removal = _delete_after(source, leaf, operation)
                if removal is not None:
                    return (_move_fix(leaf, moved, (*moved[1], removal), facts),)
        return _requires_grad_last_fix(
            facts, source, creation.top, _drop_keyword(source, leaf), leaf
        )
    # ``<fresh tensor>.requires_grad_().unsqueeze(0)``: drop the call, put it last.
    receiver = leaf.func.value  # type: ignore[attr-defined]
    if isinstance(receiver, (ast.Name, ast.Attribute, ast.Subscript)):
        return ()
    return _requires_grad_last_fix(
        facts, source, creation.top, _delete_after(source, receiver, leaf), leaf
    )


# -- rebinding and .grad reads -------------------------------------------------------


def _rebindings_and_reads(
    rule: Rule, context: RuleContext, kinds: TensorKinds, scope: ast.AST
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
                fixes=_rebinding_fixes(context, info, target.id, value, binding, operation[0]),
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


def _rebinding_fixes(
    context: RuleContext,
    info: flow.StatementInfo,
    name: str,
    value: ast.expr,
    binding: Binding,
    operation: ast.expr,
) -> tuple[Fix, ...]:
    """Only for ``w = <factory>(..., requires_grad=True)`` directly followed by the rebinding."""
    facts, source = context.facts, context.source
    creation = binding.statement
    if binding.origin is not Origin.FACTORY or info.index == 0:
        return ()
    if info.block[info.index - 1] is not creation or not isinstance(creation, ast.Assign):
        return ()
    factory = creation.value
    if not (isinstance(factory, ast.Call) and binding.value is factory):
        return ()
    if operation is value and owns_its_lines(source, info.node):
        moved = _move_into_factory(facts, source, factory, operation)
        if moved is not None:
            removal = TextEdit(source.statement_lines(info.node), "")
            return (_move_fix(factory, moved, (*moved[1], removal), facts),)
    name_node = _name_operand(operation)
    if name_node is None:
        return ()
    return _requires_grad_last_fix(facts, source, value, _drop_keyword(source, factory), name_node)


def _name_operand(operation: ast.expr) -> ast.expr | None:
    """The name the rebinding's first operation applies to."""
    if isinstance(operation, ast.Call) and isinstance(operation.func, ast.Attribute):
        return operation.func.value
    for child in ast.iter_child_nodes(operation):
        if isinstance(child, ast.Name):
            return child
    return None


# -- fix building ------------------------------------------------------------------------


def _move_fix(
    factory: ast.Call,
    moved: tuple[str, tuple[TextEdit, ...]],
    edits: tuple[TextEdit, ...],
    facts: ModuleFacts,
) -> Fix:
    callee = facts.qualify(factory.func) or "the factory"
    return Fix(f"Pass {moved[0]} to `{callee}`", FixSafety.SAFE, edits)


def _move_into_factory(
    facts: ModuleFacts, source: SourceFile, factory: ast.Call, conversion: ast.expr
) -> tuple[str, tuple[TextEdit, ...]] | None:
    """Keyword arguments for the factory equivalent to the literal conversion, as
    (description, edits inserting them before ``requires_grad=``)."""
    if not isinstance(conversion, ast.Call):
        return None
    placement = _literal_placement(facts, source, conversion)
    if not placement:
        return None
    if any(k.arg is None for k in factory.keywords) or any(
        isinstance(a, ast.Starred) for a in factory.args
    ):
        return None
    if any(keyword_of(factory, key) is not None for key, _ in placement):
        return None
    requires_grad = keyword_of(factory, "requires_grad")
    if requires_grad is None:
        return None
    text = "".join(f"{key}={value}, " for key, value in placement)
    where = source.position_from_ast(requires_grad.lineno, requires_grad.col_offset)
    description = " and ".join(f"`{key}={value}`" for key, value in placement)
    return description, (source.insert_at(where, text),)


def _literal_placement(
    facts: ModuleFacts, source: SourceFile, call: ast.Call
) -> list[tuple[str, str]] | None:
    method = flow.method_name(call)
    if any(isinstance(a, ast.Starred) for a in call.args):
        return None
    if method in _DTYPE_OF_METHOD:
        torch = torch_name(facts)
        if call.args or call.keywords or torch is None:
            return None
        return [("dtype", f"{torch}.{_DTYPE_OF_METHOD[method]}")]
    if method in ("cuda", "cpu"):
        if call.keywords or len(call.args) > (1 if method == "cuda" else 0):
            return None
        if not call.args:
            return [("device", f'"{method}"')]
        index = call.args[0]
        if isinstance(index, ast.Constant) and type(index.value) is int:
            return [("device", f'"cuda:{index.value}"')]
        return None
    if method not in ("to", "type"):
        return None
    placement: list[tuple[str, str]] = []
    for arg in call.args:
        kind = _literal_kind(facts, arg)
        if kind is None or (kind == "device" and method == "type"):
            return None
        placement.append((kind, source.node_text(arg)))
    for keyword in call.keywords:
        if keyword.arg not in ("dtype", "device") or _literal_kind(facts, keyword.value) != (
            keyword.arg
        ):
            return None
        placement.append((keyword.arg, source.node_text(keyword.value)))
    kinds = [kind for kind, _ in placement]
    return placement if placement and len(set(kinds)) == len(kinds) else None


def _literal_kind(facts: ModuleFacts, expr: ast.expr) -> str | None:
    """``dtype`` for ``torch.float64``, ``device`` for ``"cuda"`` / ``torch.device("cuda")``."""
    qualified = facts.qualify(expr) or ""
    if qualified.startswith("torch.") and qualified[len("torch.") :] in _DTYPES:
        return "dtype"
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return "device" if _DEVICE_STRING.match(expr.value) else None
    if (
        isinstance(expr, ast.Call)
        and facts.qualify(expr.func) == "torch.device"
        and not expr.keywords
        and expr.args
        and all(isinstance(a, ast.Constant) for a in expr.args)
    ):
        return "device"
    return None


def _only_reshapes(facts: ModuleFacts, start: ast.expr, top: ast.expr) -> bool:
    """Every operation from ``start`` up to ``top`` converts, reshapes or scales the tensor
    (a reduction or a math function is a computation, not the tensor being initialised)."""
    current = start
    while current is not top:
        operation = non_leaf_operation(current, facts.parents)
        if operation is None:
            return False
        call = operation[0]
        if isinstance(call, ast.Call) and flow.method_name(call) not in _RESHAPING_METHODS:
            return False
        current = call
    return True


def _requires_grad_last_fix(
    facts: ModuleFacts,
    source: SourceFile,
    top: ast.expr,
    removal: TextEdit | None,
    start: ast.expr,
) -> tuple[Fix, ...]:
    """Remove the early ``requires_grad`` and call ``.requires_grad_()`` on the final value."""
    parent = facts.parents.get(top)
    if removal is None or not isinstance(parent, _KEEPING_PARENTS):
        return ()
    if isinstance(parent, (ast.Assign, ast.AnnAssign)) and parent.value is not top:
        return ()
    if not _only_reshapes(facts, start, top):
        return ()
    span = source.span_of(top)
    if isinstance(top, _ATOMS):
        edits: tuple[TextEdit, ...] = (removal, source.insert_at(span.end, ".requires_grad_()"))
    else:
        edits = (
            source.insert_at(span.start, "("),
            removal,
            source.insert_at(span.end, ").requires_grad_()"),
        )
    return (Fix("Call `.requires_grad_()` last", FixSafety.SAFE, edits),)


def _drop_keyword(source: SourceFile, factory: ast.Call) -> TextEdit | None:
    """Delete ``, requires_grad=True`` (from the comma after the previous argument)."""
    keyword = keyword_of(factory, "requires_grad")
    if keyword is None:
        return None
    start = source.position_from_ast(keyword.lineno, keyword.col_offset)
    previous_ends = [
        source.span_of(arg).end
        for arg in [*factory.args, *(k.value for k in factory.keywords)]
        if source.span_of(arg).end <= start
    ]
    if not previous_ends:
        return None
    between = source.segment(Span(max(previous_ends), start))
    comma = between.rfind(",")
    if comma < 0 or "#" in between:
        return None
    comma_at = source.position_at(source.offset(max(previous_ends)) + comma)
    return TextEdit(Span(comma_at, source.span_of(keyword.value).end), "")


def _delete_after(source: SourceFile, inner: ast.expr, outer: ast.expr) -> TextEdit | None:
    """Delete the method call that turns ``inner`` into ``outer`` (``.to(...)``), keeping
    any closing parentheses around ``inner``."""
    inner_end, outer_end = source.span_of(inner).end, source.span_of(outer).end
    segment = source.segment(Span(inner_end, outer_end))
    dot = segment.find(".")
    if dot < 0 or segment[:dot].strip(") \t\r\n") or "#" in segment:
        return None
    start: Position = source.position_at(source.offset(inner_end) + dot)
    return TextEdit(Span(start, outer_end), "")


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
