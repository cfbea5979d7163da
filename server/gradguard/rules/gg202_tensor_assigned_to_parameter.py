"""## What it does
Checks for a plain tensor expression assigned to a registered parameter:
`model.weight = torch.randn(...)`, `self.w = F.softmax(self.w, 0)` in `forward`,
`model.fc.weight = model.fc.weight - lr * g`, and `setattr(layer, name, t)` where `name`
is a literal or runs over the layer's own parameter names (`for name, p in
layer.named_parameters()`, `for name in ("weight", "bias")`, `layer._parameters`): the
weight-loading and quantisation loops.

## Why is this bad?
A module attribute that holds a parameter only accepts an `nn.Parameter` or `None`.
Anything computed from a parameter (arithmetic, `F.*` functions, `.clone()`, `.data`) or
made by a factory (`torch.randn`, `torch.zeros_like`) is a plain tensor, so the
assignment fails. Manual updates meant to change the parameter's values must write into
it in place; values computed in `forward` belong in a local variable.

## What PyTorch does
The assignment raises a `TypeError` whose message reads
`cannot assign 'torch.FloatTensor' as parameter 'weight' (torch.nn.Parameter or None expected)`
(the type name follows the tensor's dtype: `'torch.HalfTensor'` after `.half()`), also
under `torch.no_grad()` and also for a `bias` that `bias=False` left as None. In `forward`,
`self.w = F.softmax(self.w, 0)` raises the same error on the first call. `setattr` raises
it the same way. A loop over the `named_parameters()` of a model with submodules yields
dotted names (`fc.weight`), which `setattr` stores as plain attributes without an error;
that loop is not reported. After `del layer._parameters[name]` (pruning's
reparametrization) a plain tensor is accepted.

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
from gradguard.analysis.spelling import local_name_for
from gradguard.findings import Finding, Fix, FixSafety, Severity, TextEdit
from gradguard.rules.base import FixAvailability, Raises, Rule, RuleContext
from gradguard.semantic.model import SemanticModel
from gradguard.semantic.parameter_names import reached_parameter
from gradguard.semantic.plain_tensors import is_plain_tensor
from gradguard.semantic.registered import RegisteredParameters

_ERROR = (
    "raises `TypeError: cannot assign '<tensor type>' as parameter '{attr}' "
    "(torch.nn.Parameter or None expected)`"
)
# A key that names a parameter slot: ("literal", "weight") or ("name", "name").
Key = tuple[str, str]


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    model = SemanticModel.of(context.facts)
    registered = RegisteredParameters.of(model)
    # ``_assignments`` yields only for these, taken in ``ast.walk`` order.
    for node in context.facts.nodes_of_types(ast.Assign, ast.AnnAssign):
        for target, value in _assignments(node):
            if not (isinstance(target, ast.Attribute) and registered.may_register(target.attr)):
                continue
            # Both must hold; the value's shape is the cheaper question.
            if not is_plain_tensor(model, value, node):  # type: ignore[arg-type]
                continue
            if not registered.is_parameter(target.value, target.attr, node):  # type: ignore[arg-type]
                continue
            if not _registered_before_in_init(context, registered, node, target.value, target.attr):
                continue
            if _unregistered_before(context, node, target.value, ("literal", target.attr)):
                continue
            yield rule.finding(
                context,
                node,
                f"`{context.source.node_text(target)}` is a registered parameter, so "
                f"assigning it a plain tensor {_ERROR.format(attr=target.attr)}",
                fixes=_fixes(context, node, target, value),
            )
    if context.facts.mentions("setattr"):
        for call in context.facts.nodes_of(ast.Call):
            yield from _check_setattr(rule, context, model, call)  # type: ignore[arg-type]


def _assignments(node: ast.AST) -> Iterator[tuple[ast.expr, ast.expr]]:
    if isinstance(node, ast.Assign):
        for target in node.targets:
            yield target, node.value
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        yield node.target, node.value


def _check_setattr(
    rule: Rule, context: RuleContext, model: SemanticModel, call: ast.Call
) -> Iterator[Finding]:
    """``setattr(layer, "weight", t)``, and ``setattr(layer, name, t)`` in a loop whose
    ``name`` runs over the layer's own parameter names."""
    func = call.func
    if not (isinstance(func, ast.Name) and func.id == "setattr" and len(call.args) == 3):
        return
    statement = context.facts.enclosing_statement(call)
    if statement is None or call.keywords or any(isinstance(a, ast.Starred) for a in call.args):
        return
    base, name, value = call.args
    if not is_plain_tensor(model, value, statement):
        return
    reached = reached_parameter(model, base, name, statement)
    if reached is None:
        return
    attr, from_loop = reached
    registered = RegisteredParameters.of(model)
    if not _registered_before_in_init(context, registered, statement, base, attr):
        return
    key = _key(name)
    if key is None or _unregistered_before(context, statement, base, key):
        return
    source = context.source
    owner = source.node_text(base)
    if from_loop:
        message = (
            f"`{source.node_text(name)}` takes `'{attr}'`, a registered parameter of "
            f"`{owner}`, so `setattr` with a plain tensor {_ERROR.format(attr=attr)}"
        )
    else:
        message = (
            f"`{owner}.{attr}` is a registered parameter, so assigning it a plain tensor "
            f"{_ERROR.format(attr=attr)}"
        )
    target = f"getattr({owner}, {source.node_text(name)})"
    fix = None
    if isinstance(statement, ast.Expr) and statement.value is call:
        fix = _copy_fix(context, statement, target, value)
    yield rule.finding(context, call, message, fixes=(fix,) if fix is not None else ())


def _registered_before_in_init(
    context: RuleContext,
    registered: RegisteredParameters,
    stmt: ast.AST,
    base: ast.expr,
    attr: str,
) -> bool:
    """Inside ``__init__``, ``self.w`` is a parameter only once it was registered:
    ``self.w = torch.randn(3)`` before ``self.w = nn.Parameter(self.w)`` is fine, and a
    layer subclass registers its parameters in ``super().__init__()``."""
    function = context.facts.enclosing_function(stmt)
    if function is None or function.name != "__init__":
        return True
    if not (isinstance(base, ast.Name) and base.id == "self"):
        return True
    info = context.facts.class_info_of(stmt)
    own = info is not None and any(
        attr in context.facts.classes[name].parameters
        for name in registered.class_lineage(info.name)
    )
    line = getattr(stmt, "lineno", 0)
    for node in flow.walk_local(function):
        if getattr(node, "lineno", line) >= line:
            continue
        if own and _registers(context, node, attr):
            return True
        if not own and isinstance(node, ast.Call) and flow.method_name(node) == "__init__":
            return True
    return False


def _unregistered_before(context: RuleContext, stmt: ast.AST, base: ast.expr, key: Key) -> bool:
    """``del m.weight`` (or ``del m._parameters["weight"]``, ``m._parameters.pop("weight")``,
    ``delattr(m, "weight")``) earlier in the scope: the name is free again, and a plain
    tensor is accepted (the reparametrization pattern of pruning and weight norm)."""
    owner = flow.dotted_name(base)
    if owner is None:
        return False
    line = getattr(stmt, "lineno", 0)
    for node in flow.walk_local(context.facts.enclosing_scope(stmt)):
        if getattr(node, "lineno", line) >= line:
            continue
        if isinstance(node, ast.Delete):
            for deleted in node.targets:
                if _frees(deleted, owner, key):
                    return True
        if isinstance(node, ast.Call) and _frees_by_call(node, owner, key):
            return True
    return False


def _frees_by_call(call: ast.Call, owner: str, key: Key) -> bool:
    """``m._parameters.pop(key)`` / ``delattr(m, key)``."""
    if flow.method_name(call) == "pop" and call.args:
        return _is_slots(call.func.value, owner) and _key(call.args[0]) == key  # type: ignore[attr-defined]
    if isinstance(call.func, ast.Name) and call.func.id == "delattr" and len(call.args) == 2:
        return flow.dotted_name(call.args[0]) == owner and _key(call.args[1]) == key
    return False


def _frees(deleted: ast.expr, owner: str, key: Key) -> bool:
    if isinstance(deleted, ast.Attribute):
        return flow.dotted_name(deleted.value) == owner and key == ("literal", deleted.attr)
    if isinstance(deleted, ast.Subscript):
        return _is_slots(deleted.value, owner) and _key(deleted.slice) == key
    return False


def _is_slots(holder: ast.expr, owner: str) -> bool:
    return flow.dotted_name(holder) == f"{owner}._parameters"


def _key(node: ast.expr) -> Key | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return ("literal", node.value)
    if isinstance(node, ast.Name):
        return ("name", node.id)
    return None


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
        fix = _copy_fix(context, stmt, context.source.node_text(target), value)
    return (fix,) if fix is not None else ()


def _copy_fix(context: RuleContext, stmt: ast.stmt, target: str, value: ast.expr) -> Fix | None:
    source = context.source
    copy = f"{target}.copy_({source.node_text(value)})"
    title = f"Copy the value into `{target}` in place"
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
