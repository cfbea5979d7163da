"""## What it does
Checks for `None` written over a registered parameter: `model.weight = None`,
`self.fc.weight = None` outside `__init__`, `setattr(model, "weight", None)`,
`model.register_parameter("weight", None)` for a name that already holds a parameter,
`del model.weight` and `model.weight.data = None`, in any branch of the code. The
parameter is followed through names (`nothing = None; layer.bias = nothing`, an alias of
the layer) and containers (`model[0].bias = None` on an `nn.Sequential`).

It does not flag `self.bias = None` or `self.register_parameter("bias", None)` in
`__init__` (the idiomatic optional parameter), nor attributes that are not parameters.

## Why is this bad?
The assignment does not fail where it is written, so the damage shows up later and
somewhere else: the module loses the parameter while the optimizer keeps the old one.
A popular explanation of `'NoneType' object has no attribute 'zero_'` blames this pattern
for an `optimizer.zero_grad()` crash; that is wrong, `zero_grad()` never fails because of
it.

## What PyTorch does
`model.weight = None` **succeeds**: `weight` stays a key of `model._parameters` with the
value `None`, and `named_parameters()` no longer yields it. Then:

- the layer's next forward raises
  `TypeError: linear(): argument 'weight' (position 2) must be Tensor, not NoneType`
  (for a `bias` outside recurrent layers, or a normalisation layer's weight, there is no
  error: the layer silently runs without it);
- the optimizer still holds the orphaned Parameter, and `step()` keeps updating it with
  the gradient it still has;
- the parameter vanishes from `state_dict()`, so checkpoints silently lose it;
- `optimizer.zero_grad()` does **not** fail, with `set_to_none=True` or `False`: it walks
  the optimizer's own Parameter references and checks `p.grad is not None`.

`setattr(model, "weight", None)` and `model.register_parameter("weight", None)` on an
existing parameter behave the same. `del model.weight` removes the key, and the next
forward raises `AttributeError: 'Linear' object has no attribute 'weight'`.
`model.weight.data = None` raises `TypeError: Variable data has to be a tensor, but got
NoneType` at once.

## Example
```python
import torch
from torch import nn

model = nn.Linear(3, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(2):
    optimizer.zero_grad()
    loss = model(torch.randn(4, 3)).pow(2).mean()
    loss.backward()
    optimizer.step()
    model.weight = None
```

## Use instead
```python
import torch
from torch import nn

model = nn.Linear(3, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(2):
    optimizer.zero_grad()
    loss = model(torch.randn(4, 3)).pow(2).mean()
    loss.backward()
    optimizer.step()
```

## Fix safety
The fix removes the statement (leaving `pass` when it is the only statement of its
block). It is unsafe: code written after it may rely on the parameter being gone (for
example a custom layer that re-registers it), so review the result.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from gradguard.analysis import flow
from gradguard.analysis.edits import containing_block, removal_edit
from gradguard.findings import Finding, Fix, FixSafety, Severity
from gradguard.rules.base import FixAvailability, Raises, Rule, RuleContext
from gradguard.semantic.catalogue.layers import RNN_LAYERS
from gradguard.semantic.model import SemanticModel
from gradguard.semantic.objects import NONE_VALUE
from gradguard.semantic.reads import name_pattern
from gradguard.semantic.registered import RegisteredParameters

# Layers whose forward raises TypeError when a required parameter is None (measured).
_TYPE_ERROR_LAYERS = frozenset(
    {
        "Linear",
        "Bilinear",
        "Conv1d",
        "Conv2d",
        "Conv3d",
        "ConvTranspose1d",
        "ConvTranspose2d",
        "ConvTranspose3d",
        "Embedding",
        "PReLU",
        "LazyLinear",
    }
)
_DATA_MESSAGE = "`TypeError: Variable data has to be a tensor, but got NoneType`"
_CONSEQUENCES = (
    "an optimizer built earlier still steps the orphaned Parameter, it vanishes from "
    "`state_dict()`, and `optimizer.zero_grad()` does not fail because of it"
)


@dataclass(frozen=True)
class _Removal:
    """One parameter that a statement sets to None, deletes, or whose ``.data`` it clears."""

    where: ast.AST
    base: ast.expr
    attr: str
    how: str  # "none", "del" or "data"


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    index = RegisteredParameters.of(SemanticModel.of(context.facts))
    # Only these node types can hold a removal (see ``_removals``); the engine sorts the
    # findings, so each type's nodes are taken in turn.
    candidates = itertools.chain(
        context.facts.nodes_of(ast.Assign),
        context.facts.nodes_of(ast.AnnAssign),
        context.facts.nodes_of(ast.Delete),
        _removing_calls(context),
    )
    for node in candidates:
        removals = list(_removals(context, index, node))
        if not removals:
            continue
        fixes = _fixes(context, node, removals)
        for removal in removals:
            yield rule.finding(
                context, removal.where, _message(context, index, removal), fixes=fixes
            )


def _removals(
    context: RuleContext, index: RegisteredParameters, node: ast.AST
) -> Iterator[_Removal]:
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if not _may_name_parameter(index, targets):
            return  # whatever the value holds, no target can be a registered parameter
        if _is_none(node.value) or (
            any(isinstance(t, ast.Attribute) for t in targets) and _holds_none(context, node.value)
        ):
            for target in targets:
                yield from _target_removal(context, index, node, target, "none")
    elif isinstance(node, ast.Delete):
        for target in node.targets:
            yield from _target_removal(context, index, node, target, "del")
    elif isinstance(node, ast.Call):
        yield from _call_removal(context, index, node)


def _may_name_parameter(index: RegisteredParameters, targets: Sequence[ast.expr]) -> bool:
    """Some target is ``x.<attr>`` or ``x.<attr>.data`` with an ``attr`` the file's modules
    may register (what :func:`_target_removal` asks before anything else holds)."""
    for target in targets:
        if isinstance(target, ast.Attribute):
            if index.may_register(target.attr):
                return True
            inner = target.value
            data = target.attr == "data" and isinstance(inner, ast.Attribute)
            if data and index.may_register(inner.attr):  # type: ignore[attr-defined]
                return True
    return False


def _target_removal(
    context: RuleContext, index: RegisteredParameters, stmt: ast.stmt, target: ast.expr, how: str
) -> Iterator[_Removal]:
    if not isinstance(target, ast.Attribute):
        return
    if how == "none" and target.attr == "data" and isinstance(target.value, ast.Attribute):
        inner = target.value
        if index.holds_parameter(inner.value, inner.attr, stmt):
            yield _Removal(stmt, inner.value, inner.attr, "data")
            return
    if _idiomatic_in_init(context, stmt, target.value):
        return
    if index.holds_parameter(target.value, target.attr, stmt) and not _set_again_later(
        context, stmt, target.value, target.attr
    ):
        yield _Removal(stmt, target.value, target.attr, how)


def _removing_calls(context: RuleContext) -> list[ast.AST]:
    """The calls that may remove by call, ``setattr(...)`` and ``x.register_parameter(...)``,
    in ``ast.walk`` order (found in the file's index of calls by name)."""
    named = context.facts.calls_named
    calls = [c for c in named.get("setattr", ()) if isinstance(c.func, ast.Name)]
    calls += [c for c in named.get("register_parameter", ()) if isinstance(c.func, ast.Attribute)]
    return context.facts.in_walk_order(calls)  # type: ignore[arg-type]


def _call_removal(
    context: RuleContext, index: RegisteredParameters, call: ast.Call
) -> Iterator[_Removal]:
    """``setattr(model, "weight", None)`` and ``model.register_parameter("weight", None)``."""
    if call.keywords or any(isinstance(a, ast.Starred) for a in call.args):
        return
    func = call.func
    if isinstance(func, ast.Name) and func.id == "setattr" and len(call.args) == 3:
        base, name, value = call.args
    elif isinstance(func, ast.Attribute) and func.attr == "register_parameter":
        if len(call.args) != 2:
            return
        base, (name, value) = func.value, call.args
    else:
        return
    if not (
        isinstance(name, ast.Constant)
        and isinstance(name.value, str)
        and _holds_none(context, value)
    ):
        return
    if _idiomatic_in_init(context, call, base):
        return
    statement = context.facts.enclosing_statement(call)
    if statement is None:
        return
    if index.holds_parameter(base, name.value, statement) and not _set_again_later(
        context, call, base, name.value
    ):
        yield _Removal(call, base, name.value, "none")


def _set_again_later(context: RuleContext, node: ast.AST, base: ast.expr, attr: str) -> bool:
    """A later statement of the same scope gives the attribute a value again (a
    reparametrization: ``del m.weight`` then ``m.weight = m.weight_orig * mask``):
    then the next forward does not fail, and the rule stays silent."""
    owner = flow.dotted_name(base)
    if owner is None:
        return False
    end = getattr(node, "end_lineno", None)
    line = end if isinstance(end, int) else getattr(node, "lineno", 0)
    for other in flow.walk_local(context.facts.enclosing_scope(node)):
        if getattr(other, "lineno", 0) <= line:
            continue
        if (
            isinstance(other, (ast.Assign, ast.AnnAssign))
            and not _is_none(other.value)
            and any(flow.dotted_name(t) == f"{owner}.{attr}" for t in flow.assigned_targets(other))
        ):
            return True
        if isinstance(other, ast.Call) and _sets_by_name(other, owner, attr):
            return True
    return False


def _sets_by_name(call: ast.Call, owner: str, attr: str) -> bool:
    """``setattr(owner, "attr", value)`` / ``owner.register_parameter("attr", value)``
    with a value that is not None."""
    args = call.args
    if isinstance(call.func, ast.Name) and call.func.id == "setattr" and len(args) == 3:
        target, name, value = args
    elif flow.method_name(call) == "register_parameter" and len(args) == 2:
        target, (name, value) = call.func.value, args  # type: ignore[attr-defined]
    else:
        return False
    return (
        flow.dotted_name(target) == owner
        and isinstance(name, ast.Constant)
        and name.value == attr
        and not _is_none(value)
    )


def _holds_none(context: RuleContext, value: ast.expr | None) -> bool:
    """``None``, or a name the semantic model proves holds None (``nothing = None``)."""
    if value is None or _is_none(value):
        return value is not None
    semantic = SemanticModel.of(context.facts)
    if not _may_bind_none(context, semantic, value):
        return False  # nothing in the file binds that name to None: no need to ask
    return semantic.value_of(value) == NONE_VALUE


def _may_bind_none(context: RuleContext, semantic: SemanticModel, value: ast.expr) -> bool:
    """The file writes ``None`` into the name (in its scope or the module's) or into a
    field of that attribute name: a cheap test before evaluating ``value``. It reads
    every such assignment in the file (the editor re-checks when one is added)."""
    reads = semantic.evaluator.reads
    if isinstance(value, ast.Name):
        if reads is not None:
            reads.scan(name_pattern(value.id), word=value.id)
        scopes = {context.facts.enclosing_scope(value), context.facts.tree}
        return any(
            _is_none(definition.value)
            for scope in scopes
            for definition in semantic.bindings(scope).definitions.get(value.id, ())
        )
    if isinstance(value, ast.Attribute):
        if reads is not None:
            reads.scan(name_pattern(value.attr), word=value.attr)
        stores = semantic.evaluator.heap.stores.get(value.attr, ())
        return any(_is_none(statement.value) for _, statement in stores)  # type: ignore[attr-defined]
    return False


def _is_none(value: ast.expr | None) -> bool:
    return isinstance(value, ast.Constant) and value.value is None


def _idiomatic_in_init(context: RuleContext, node: ast.AST, base: ast.expr) -> bool:
    """``self.bias = None`` (or on a submodule of ``self``) inside ``__init__``."""
    root = base
    while isinstance(root, ast.Attribute):
        root = root.value
    if not (isinstance(root, ast.Name) and root.id == "self"):
        return False
    function = context.facts.enclosing_function(node)
    return function is not None and function.name == "__init__"


# -- messages ------------------------------------------------------------------------


def _message(context: RuleContext, index: RegisteredParameters, removal: _Removal) -> str:
    owner = context.source.node_text(removal.base)
    target = f"{owner}.{removal.attr}"
    if removal.how == "data":
        return f"`{target}.data = None` raises {_DATA_MESSAGE}"
    at = removal.where if isinstance(removal.where, ast.stmt) else None
    at = at or context.facts.enclosing_statement(removal.where)
    layers = index.layers_of(removal.base, removal.attr, at) if at is not None else ()
    if removal.how == "del":
        class_name = index.class_name(removal.base, at) if at is not None else None
        effect = _deleted_effect(layers, class_name, target, removal.attr)
        return f"`del {target}` unregisters the parameter: {effect}, {_CONSEQUENCES}"
    effect = _none_effect(layers, target, removal.attr)
    return (
        f"Writing `None` over the parameter `{target}` succeeds but unregisters it: "
        f"{effect}, {_CONSEQUENCES}"
    )


def _none_effect(layers: tuple[str, ...], target: str, attr: str) -> str:
    if layers and all(_is_optional(layer, attr) for layer in layers):
        return "the layer silently runs without it from then on"
    if layers and all(layer in _TYPE_ERROR_LAYERS for layer in layers):
        return "the layer's next forward raises `TypeError`"
    if layers and all(layer in RNN_LAYERS or layer == "MultiheadAttention" for layer in layers):
        return "the layer's next forward fails"
    return f"`{target}` reads `None` from then on"


def _is_optional(layer: str, attr: str) -> bool:
    """Measured: the forward accepts None for any bias outside RNNs, and for the
    affine parameters of normalisation layers."""
    if layer in RNN_LAYERS:
        return False
    return attr.startswith("bias") or attr.endswith("_bias") or "Norm" in layer


def _deleted_effect(layers: tuple[str, ...], class_name: str | None, target: str, attr: str) -> str:
    if layers and any(layer in RNN_LAYERS for layer in layers):
        return "it disappears from `parameters()`"
    if class_name:
        error = f"`AttributeError: '{class_name}' object has no attribute '{attr}'`"
    else:
        error = "`AttributeError`"
    if layers:
        return f"the layer's next forward raises {error}"
    return f"every later read of `{target}` raises {error}"


# -- fix -------------------------------------------------------------------------------


def _fixes(context: RuleContext, node: ast.AST, removals: list[_Removal]) -> tuple[Fix, ...]:
    """Remove the statement, when everything it does is one of the flagged removals."""
    if isinstance(node, ast.Call):
        stmt = context.facts.parents.get(node)
        if not (isinstance(stmt, ast.Expr) and stmt.value is node):
            return ()
        title = f"Remove the `{flow.method_name(node) or 'setattr'}` call"
    elif isinstance(node, ast.stmt):
        stmt = node
        count = len(node.targets) if isinstance(node, (ast.Assign, ast.Delete)) else 1
        if count != len(removals):
            return ()
        title = (
            "Remove the `del` statement"
            if isinstance(node, ast.Delete)
            else ("Remove the `None` assignment")
        )
    else:
        return ()
    block = containing_block(context.facts.parents, stmt)
    if block is None:
        return ()
    edit = removal_edit(context.source, stmt, block)
    if edit is None:
        return ()
    return (Fix(title, FixSafety.UNSAFE, (edit,)),)


RULE = Rule(
    code="GG201",
    name="none-assigned-to-parameter",
    summary="`None` written over a registered parameter",
    severity=Severity.WARNING,
    fix_availability=FixAvailability.SOMETIMES,
    doc=__doc__ or "",
    check_function=check,
    example_outcome=Raises("TypeError", "must be Tensor, not NoneType"),
)
