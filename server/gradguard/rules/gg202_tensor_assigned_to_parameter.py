"""## What it does
Checks for a plain tensor expression assigned to a registered parameter:
`model.weight = torch.randn(...)`, `self.w = F.softmax(self.w, 0)` in `forward`,
`model.fc.weight = model.fc.weight - lr * g`.

## Why is this bad?
A module attribute that holds a parameter only accepts an `nn.Parameter` or `None`.
Anything computed from a parameter (arithmetic, `F.*` functions, `.clone()`, `.data`) or
made by a factory (`torch.randn`, `torch.zeros_like`) is a plain tensor, so the
assignment fails. Manual updates meant to change the parameter's values must write into
it in place; values computed in `forward` belong in a local variable.

## What PyTorch does
The assignment raises a `TypeError` whose message reads
`cannot assign 'torch.FloatTensor' as parameter 'weight' (torch.nn.Parameter or None expected)`
(the type name follows the tensor's dtype), also under `torch.no_grad()`. In `forward`,
`self.w = F.softmax(self.w, 0)` raises the same error on the first call.

## Example
```python
import torch
from torch import nn

model = nn.Linear(3, 2)
loss = model(torch.randn(4, 3)).pow(2).mean()
loss.backward()
with torch.no_grad():
    model.weight = model.weight - 0.1 * model.weight.grad
```

## Use instead
```python
import torch
from torch import nn

model = nn.Linear(3, 2)
loss = model(torch.randn(4, 3)).pow(2).mean()
loss.backward()
with torch.no_grad():
    model.weight.copy_(model.weight - 0.1 * model.weight.grad)
```

## Fix safety
Both fixes are unsafe. Outside `forward`, the fix writes the value into the parameter in
place, `with torch.no_grad(): <target>.copy_(<value>)`, which keeps the Parameter (and the
optimizer's reference to it) but requires the new value to have the parameter's shape.
In `forward`, the fix assigns the value to a local variable and makes the rest of
`forward` read it, leaving the parameter untouched; it is offered only when the
assignment is at the top level of `forward` and nothing else in `forward` writes the
attribute.
"""

from __future__ import annotations

import ast
import keyword
from collections.abc import Iterator

from gradguard.analysis import flow
from gradguard.analysis.edits import indent_unit, owns_its_lines_or_semicolon
from gradguard.analysis.parameters import ParameterIndex, local_name_for, parameter_index
from gradguard.findings import Finding, Fix, FixSafety, Severity, TextEdit
from gradguard.rules.base import FixAvailability, Raises, Rule, RuleContext

# Tensor methods that always return a new tensor (never the Parameter itself).
_TENSOR_METHODS = frozenset(
    {
        "clone",
        "detach",
        "softmax",
        "log_softmax",
        "sigmoid",
        "tanh",
        "relu",
        "exp",
        "log",
        "abs",
        "sqrt",
        "sum",
        "mean",
        "t",
        "transpose",
        "permute",
        "view",
        "reshape",
        "flatten",
        "squeeze",
        "unsqueeze",
        "expand",
        "repeat",
        "mul",
        "add",
        "sub",
        "div",
        "matmul",
        "mm",
        "norm",
        "clamp",
        "pow",
        "neg",
        "sign",
        "round",
        "masked_fill",
        "index_select",
        "mv",
        "bmm",
        "cumsum",
        "flip",
        "roll",
        "expand_as",
        "view_as",
        "reshape_as",
        "renorm",
        "softplus",
        "exp2",
        "rsqrt",
        "reciprocal",
        "square",
        "where",
    }
)
# torch namespaces whose functions return new tensors.
_TENSOR_NAMESPACES = (
    "torch.nn.functional.",
    "torch.linalg.",
    "torch.fft.",
    "torch.special.",
)
# torch functions that may hand back their argument (or are not tensor functions).
_NOT_NEW_TENSORS = frozenset(
    {
        "torch.load",
        "torch.as_tensor",
        "torch.asarray",
        "torch.compile",
        "torch.device",
        "torch.no_grad",
        "torch.enable_grad",
        "torch.manual_seed",
    }
)


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    index = parameter_index(context.facts)
    # ``_assignments`` yields only for these, taken in ``ast.walk`` order.
    for node in context.facts.nodes_of_types(ast.Assign, ast.AnnAssign):
        for target, value in _assignments(node):
            if not isinstance(target, ast.Attribute):
                continue
            # Both must hold; the value's shape is the cheaper question.
            if not is_plain_tensor(context, index, value, node):
                continue
            if not index.is_parameter(target.value, target.attr, node):
                continue
            if not _registered_before_in_init(context, index, node, target):
                continue
            if _unregistered_before(context, node, target):
                continue
            yield rule.finding(
                context,
                node,
                f"`{context.source.node_text(target)}` is a registered parameter, so "
                f"assigning it a plain tensor raises `TypeError: cannot assign '<tensor "
                f"type>' as parameter '{target.attr}' (torch.nn.Parameter or None expected)`",
                fixes=_fixes(context, node, target, value),
            )


def _assignments(node: ast.AST) -> Iterator[tuple[ast.expr, ast.expr]]:
    if isinstance(node, ast.Assign):
        for target in node.targets:
            yield target, node.value
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        yield node.target, node.value


def is_plain_tensor(
    context: RuleContext, index: ParameterIndex, value: ast.AST, at: ast.AST, depth: int = 0
) -> bool:
    """The expression certainly evaluates to a new plain tensor (not a Parameter)."""
    if depth > 4:
        return False
    if isinstance(value, ast.BinOp):
        return True
    if isinstance(value, ast.UnaryOp):
        return isinstance(value.op, (ast.USub, ast.Invert))
    if isinstance(value, ast.Call):
        qualified = context.facts.qualify(value.func) or ""
        if qualified.startswith("torch."):
            return _is_tensor_function(qualified)
        if flow.method_name(value) in _TENSOR_METHODS:
            receiver = value.func.value  # type: ignore[attr-defined]
            return _is_tensorish(context, index, receiver, at, depth + 1)
        return False
    if isinstance(value, ast.Attribute) and value.attr == "data":
        return _is_tensorish(context, index, value.value, at, depth + 1)
    if isinstance(value, ast.Name):
        values = index.values_of(value)
        return bool(values) and all(
            v is not None and is_plain_tensor(context, index, v, at, depth + 1)
            for v in values or ()
        )
    return False


def _is_tensor_function(qualified: str) -> bool:
    last = qualified.rsplit(".", 1)[-1]
    if qualified in _NOT_NEW_TENSORS or last.endswith("_") or not last[:1].islower():
        return False
    if qualified.startswith(_TENSOR_NAMESPACES):
        return True
    return qualified.count(".") == 1


def _is_tensorish(
    context: RuleContext, index: ParameterIndex, expr: ast.AST, at: ast.AST, depth: int
) -> bool:
    if isinstance(expr, ast.Attribute) and index.is_parameter(expr.value, expr.attr, at):
        return True
    return is_plain_tensor(context, index, expr, at, depth)


def _registered_before_in_init(
    context: RuleContext, index: ParameterIndex, stmt: ast.AST, target: ast.Attribute
) -> bool:
    """Inside ``__init__``, ``self.w`` is a parameter only once it was registered:
    ``self.w = torch.randn(3)`` before ``self.w = nn.Parameter(self.w)`` is fine, and a
    layer subclass registers its parameters in ``super().__init__()``."""
    function = context.facts.enclosing_function(stmt)
    if function is None or function.name != "__init__":
        return True
    if not (isinstance(target.value, ast.Name) and target.value.id == "self"):
        return True
    info = context.facts.class_info_of(stmt)
    own = info is not None and any(
        target.attr in cls.parameters for cls in index.class_lineage(info)
    )
    line = getattr(stmt, "lineno", 0)
    for node in flow.walk_local(function):
        if getattr(node, "lineno", line) >= line:
            continue
        if own and _registers(context, node, target.attr):
            return True
        if not own and isinstance(node, ast.Call) and flow.method_name(node) == "__init__":
            return True
    return False


def _unregistered_before(context: RuleContext, stmt: ast.AST, target: ast.Attribute) -> bool:
    """``del m.weight`` (or ``del m._parameters["weight"]``, ``m._parameters.pop("weight")``)
    earlier in the scope: the name is free again, and a plain tensor is accepted
    (the reparametrization pattern of pruning and weight norm)."""
    owner = flow.dotted_name(target.value)
    if owner is None:
        return False
    wanted = f"{owner}.{target.attr}"
    line = getattr(stmt, "lineno", 0)
    for node in flow.walk_local(context.facts.enclosing_scope(stmt)):
        if getattr(node, "lineno", line) >= line:
            continue
        if isinstance(node, ast.Delete):
            for deleted in node.targets:
                if flow.dotted_name(deleted) == wanted:
                    return True
                if isinstance(deleted, ast.Subscript) and _names_parameters_slot(
                    deleted.value, deleted.slice, owner, target.attr
                ):
                    return True
        if isinstance(node, ast.Call) and flow.method_name(node) == "pop" and node.args:
            holder = node.func.value  # type: ignore[attr-defined]
            if _names_parameters_slot(holder, node.args[0], owner, target.attr):
                return True
    return False


def _names_parameters_slot(holder: ast.expr, key: ast.expr, owner: str, attr: str) -> bool:
    return (
        flow.dotted_name(holder) == f"{owner}._parameters"
        and isinstance(key, ast.Constant)
        and key.value == attr
    )


def _registers(context: RuleContext, node: ast.AST, attr: str) -> bool:
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
        return context.facts.is_parameter_call(node.value) and any(
            flow.dotted_name(t) == f"self.{attr}" for t in node.targets
        )
    if isinstance(node, ast.Call) and flow.method_name(node) == "register_parameter":
        first = node.args[0] if node.args else None
        return isinstance(first, ast.Constant) and first.value == attr
    return False


# -- fixes ---------------------------------------------------------------------------


def _fixes(
    context: RuleContext, stmt: ast.AST, target: ast.Attribute, value: ast.expr
) -> tuple[Fix, ...]:
    if not isinstance(stmt, (ast.Assign, ast.AnnAssign)):
        return ()
    if isinstance(stmt, ast.Assign) and len(stmt.targets) != 1:
        return ()
    function = context.facts.enclosing_function(stmt)
    in_forward = function is not None and function.name == "forward"
    if in_forward and isinstance(target.value, ast.Name) and target.value.id == "self":
        fix = _local_variable_fix(context, stmt, target, function)  # type: ignore[arg-type]
    else:
        fix = _copy_fix(context, stmt, target, value)
    return (fix,) if fix is not None else ()


def _copy_fix(
    context: RuleContext, stmt: ast.stmt, target: ast.Attribute, value: ast.expr
) -> Fix | None:
    source = context.source
    copy = f"{source.node_text(target)}.copy_({source.node_text(value)})"
    title = f"Copy the value into `{source.node_text(target)}` in place"
    if context.facts.is_under_no_grad(stmt):
        return Fix(title, FixSafety.UNSAFE, (source.replace(stmt, copy),))
    no_grad = local_name_for(context.facts, "torch.no_grad")
    if no_grad is None or not owns_its_lines_or_semicolon(source, stmt):
        return None
    indent = source.indentation_of(stmt.lineno - 1)
    unit = indent_unit(source, stmt)
    text = f"with {no_grad}():{source.newline}{indent}{unit}{copy}"
    return Fix(f"{title} under `{no_grad}()`", FixSafety.UNSAFE, (source.replace(stmt, text),))


def _local_variable_fix(
    context: RuleContext,
    stmt: ast.stmt,
    target: ast.Attribute,
    function: ast.FunctionDef | ast.AsyncFunctionDef,
) -> Fix | None:
    """``w = F.softmax(self.w, 0)`` and later reads of ``self.w`` in forward read ``w``."""
    if not any(s is stmt for s in function.body):
        return None  # in a branch: later reads could run without the assignment
    attribute = f"self.{target.attr}"
    reads: list[ast.Attribute] = []
    end = (stmt.end_lineno or stmt.lineno, stmt.end_col_offset or 0)
    for node in ast.walk(function):
        if not (isinstance(node, ast.Attribute) and flow.dotted_name(node) == attribute):
            continue
        if node is target:
            continue
        if not isinstance(node.ctx, ast.Load):
            return None  # written or deleted elsewhere in forward
        if (node.lineno, node.col_offset) >= end:
            reads.append(node)
    name = _free_local_name(function, target.attr)
    if name is None:
        return None
    source = context.source
    edits = [TextEdit(source.span_of(target), name)]
    edits += [TextEdit(source.span_of(read), name) for read in reads]
    return Fix(
        f"Use a local variable `{name}` instead of `{attribute}`", FixSafety.UNSAFE, tuple(edits)
    )


def _free_local_name(function: ast.FunctionDef | ast.AsyncFunctionDef, attr: str) -> str | None:
    used = {node.id for node in ast.walk(function) if isinstance(node, ast.Name)}
    used |= {arg.arg for arg in ast.walk(function) if isinstance(arg, ast.arg)}
    for candidate in (attr, f"{attr}_value", f"new_{attr}"):
        if candidate.isidentifier() and not keyword.iskeyword(candidate) and candidate not in used:
            return candidate
    return None


RULE = Rule(
    code="GG202",
    name="tensor-assigned-to-parameter",
    summary="Plain tensor assigned to a registered parameter",
    severity=Severity.ERROR,
    fix_availability=FixAvailability.SOMETIMES,
    doc=__doc__ or "",
    check_function=check,
    example_outcome=Raises(
        "TypeError", "as parameter 'weight' (torch.nn.Parameter or None expected)"
    ),
)
