"""## What it does
Checks for initialisers and in-place calls on a layer's optional parameter
(`nn.init.zeros_(m.bias)`, `nn.init.constant_(m.bias, 0)`, `m.bias.data.zero_()`,
`m.bias.fill_(...)`) where that parameter can be `None`:
- the layer is built in this file with `bias=False` (or `affine=False`,
  `elementwise_affine=False` for `weight` and `bias`), as a keyword or positional
  argument, or is an `InstanceNorm` layer, whose `affine` is `False` by default;
- inside an init function dispatched on the layer type (`model.apply(fn)`,
  `for m in model.modules()`) that checks only `hasattr(m, "bias")`;
- inside such a function with no check at all, for a layer type this file builds without
  that parameter.

## Why is this bad?
A layer built with `bias=False` still has a `bias` attribute: it is `None`. So
`hasattr(m, "bias")` is `True` for it and does not protect the call; only
`m.bias is not None` does.

## What PyTorch does
`nn.init.zeros_(None)` raises `AttributeError: 'NoneType' object has no attribute 'zero_'`
(inside `torch/nn/init.py`), `nn.init.constant_(None, 0)` raises
`AttributeError: 'NoneType' object has no attribute 'fill_'`, and `m.bias.data.zero_()`
raises `AttributeError: 'NoneType' object has no attribute 'data'`.

## Example
```python
import torch
from torch import nn

model = nn.Sequential(
    nn.Conv2d(3, 8, 3, bias=False),
    nn.BatchNorm2d(8),
    nn.ReLU(),
    nn.Flatten(),
    nn.Linear(8 * 6 * 6, 2),
)


def init_weights(m):
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        nn.init.kaiming_normal_(m.weight)
        if hasattr(m, "bias"):
            nn.init.zeros_(m.bias)


model.apply(init_weights)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(2):
    loss = model(torch.randn(4, 3, 8, 8)).pow(2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
```

## Use instead
```python
import torch
from torch import nn

model = nn.Sequential(
    nn.Conv2d(3, 8, 3, bias=False),
    nn.BatchNorm2d(8),
    nn.ReLU(),
    nn.Flatten(),
    nn.Linear(8 * 6 * 6, 2),
)


def init_weights(m):
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        nn.init.kaiming_normal_(m.weight)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


model.apply(init_weights)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(2):
    loss = model(torch.randn(4, 3, 8, 8)).pow(2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
```

## Fix safety
The fix is safe. A `hasattr(m, "bias")` check is replaced by `m.bias is not None` (by
`getattr(m, "bias", None) is not None` when nothing shows that every layer reaching it
has a `bias` attribute); a call without any check is wrapped in
`if m.bias is not None:`. Either way the call still runs for every layer that has the
parameter and is skipped where it is `None`, which is where it raised. The wrap is
offered only when the call is a whole statement on its own lines.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field

from gradguard.analysis import edits, flow, none_guards, torchnames
from gradguard.analysis.facts import ModuleFacts
from gradguard.findings import Finding, Fix, FixSafety, RelatedLocation, Severity, TextEdit
from gradguard.rules.base import FixAvailability, Raises, Rule, RuleContext
from gradguard.semantic.reads import ReadLog

# What each torch.nn.init function touches first on its tensor (measured on torch 2.13.0).
_INIT_FIRST_ATTRIBUTE = {
    "zeros_": "zero_",
    "ones_": "fill_",
    "constant_": "fill_",
    "normal_": "normal_",
    "uniform_": "uniform_",
    "trunc_normal_": "is_meta",
    "kaiming_normal_": "shape",
    "kaiming_uniform_": "shape",
    "xavier_normal_": "dim",
    "xavier_uniform_": "dim",
    "orthogonal_": "ndimension",
    "sparse_": "ndimension",
    "dirac_": "ndimension",
    "eye_": "ndimension",
}
_MODULE_ITERATORS = frozenset({"modules", "named_modules", "children", "named_children"})


@dataclass(frozen=True)
class BiaslessLayer:
    """A torch.nn layer constructed with an optional parameter switched off."""

    call: ast.Call
    class_name: str  # "Conv2d"
    flag: str  # "bias=False", "affine=False (its default)"
    missing: tuple[str, ...]  # ("bias",)


@dataclass(frozen=True)
class ParameterUse:
    call: ast.Call
    owner: str  # "m", "self.fc"
    parameter: str  # "bias"
    attribute: str  # what is read on None first: "zero_", "data", "fill_"


@dataclass
class Layers:
    all: list[BiaslessLayer] = field(default_factory=list)
    # The statement that binds each constructed layer, keyed by the call.
    bound_to: dict[int, str] = field(default_factory=dict)


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    facts = context.facts
    collected = _collect(facts)
    layers, applied = collected.layers, collected.applied
    if not layers.all and not collected.has_hasattr:
        return
    for use in collected.uses:
        target = f"{use.owner}.{use.parameter}"
        if none_guards.is_guarded(use.call, target, facts.parents):
            continue
        finding = (
            _built_without(rule, context, layers, use)
            or _hasattr_only(rule, context, layers, use, applied)
            or _unguarded_dispatch(rule, context, layers, use, applied)
        )
        if finding is not None:
            yield finding


# -- one pass over the file ---------------------------------------------------------------


@dataclass
class Collected:
    layers: Layers = field(default_factory=Layers)
    applied: set[str] = field(default_factory=set)
    uses: list[ParameterUse] = field(default_factory=list)
    has_hasattr: bool = False


def _collect(facts: ModuleFacts) -> Collected:
    """Layers built without a parameter, names passed to ``.apply``, ``hasattr`` calls and
    the calls that touch ``weight``/``bias``, in one walk (``facts.parents`` holds every
    node but the module)."""
    collected = Collected()
    reads = ReadLog.of(facts)
    if reads is not None:  # any layer's flag, `.apply(init)` or `hasattr` in the file
        reads.scan(r"\bFalse\b|InstanceNorm|\bapply\b|\bhasattr\b")
    for node in facts.nodes_of_types(ast.Assign, ast.Call):  # the only kinds read here
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            name = flow.dotted_name(node.targets[0])
            if name and isinstance(node.value, ast.Call):
                collected.layers.bound_to[id(node.value)] = name
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name) and node.func.id == "hasattr":
            collected.has_hasattr = True
        elif flow.method_name(node) == "apply" and node.args:
            _add_applied(collected.applied, node.args[0])
        collected.layers.all.extend(_biasless_layer(facts, node))
        use = _init_use(facts, node) or _in_place_use(node)
        if use is not None:
            collected.uses.append(use)
    return collected


def _mentions_instance_norm(func: ast.expr) -> bool:
    """An identifier of the dotted name ``func`` contains ``InstanceNorm``.

    Anything but a dotted name (``f()(...)``, ``layers[i](...)``) is False: such a callee
    never qualifies to a torch layer, so ``_biasless_layer`` finds nothing either way.
    (It used to search ``ast.dump(func)``, which a chain of a few thousand calls made
    quadratic: one dump of the rest of the chain per call.)"""
    parts: list[str] = []
    node: ast.expr = func
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return isinstance(node, ast.Name) and any("InstanceNorm" in p for p in (*parts, node.id))


def _biasless_layer(facts: ModuleFacts, call: ast.Call) -> list[BiaslessLayer]:
    """The optional parameters a torch.nn layer construction switches off (by a literal
    ``False`` keyword or positional flag, or InstanceNorm's default ``affine=False``)."""
    if not call.keywords and len(call.args) < 3 and not _mentions_instance_norm(call.func):
        return []
    qualified = facts.qualify(call.func) or ""
    if not torchnames.is_module_class_qualname(qualified):
        return []
    class_name = qualified.rsplit(".", 1)[-1]
    flags = {k.arg: k.value for k in call.keywords if k.arg}
    for flag, index in _POSITIONAL_FLAGS.get(class_name.removeprefix("Lazy"), {}).items():
        if index < len(call.args) and not any(isinstance(a, ast.Starred) for a in call.args):
            flags.setdefault(flag, call.args[index])
    found = []
    for flag, value in flags.items():
        missing = _known_parameters(class_name, torchnames.OPTIONAL_PARAMETER_FLAGS.get(flag, ()))
        if missing and isinstance(value, ast.Constant) and value.value is False:
            found.append(BiaslessLayer(call, class_name, f"{flag}=False", missing))
    if "InstanceNorm" in class_name and "affine" not in flags:
        missing = ("weight", "bias")
        found.append(BiaslessLayer(call, class_name, "affine=False (its default)", missing))
    return found


def _known_parameters(class_name: str, parameters: tuple[str, ...]) -> tuple[str, ...]:
    """Keep the parameters that this layer class really holds as optional attributes."""
    bare = class_name.removeprefix("Lazy")
    return tuple(p for p in parameters if bare in _LAYERS_WITH_OPTIONAL_PARAMETERS.get(p, ()))


# Positions of the flags in the constructors (torch 2.13.0 signatures).
_CONV_FLAGS = {"bias": 7}
_NORM_FLAGS = {"affine": 3}
_POSITIONAL_FLAGS: dict[str, dict[str, int]] = {
    "Linear": {"bias": 2},
    "Bilinear": {"bias": 3},
    **{f"Conv{d}d": _CONV_FLAGS for d in (1, 2, 3)},
    **{f"ConvTranspose{d}d": _CONV_FLAGS for d in (1, 2, 3)},
    **{f"BatchNorm{d}d": _NORM_FLAGS for d in (1, 2, 3)},
    **{f"InstanceNorm{d}d": _NORM_FLAGS for d in (1, 2, 3)},
    "SyncBatchNorm": _NORM_FLAGS,
    "GroupNorm": _NORM_FLAGS,
    "LayerNorm": {"elementwise_affine": 2, "bias": 3},
    "RMSNorm": {"elementwise_affine": 2},
}


def _add_applied(names: set[str], argument: ast.expr) -> None:
    """``model.apply(fn)``, ``self.apply(self._init_weights)``, ``apply(partial(fn, ...))``."""
    if isinstance(argument, ast.Call) and argument.args:
        argument = argument.args[0]
    if isinstance(argument, ast.Name):
        names.add(argument.id)
    elif isinstance(argument, ast.Attribute):
        names.add(argument.attr)


# -- the calls that touch an optional parameter -------------------------------------------


def _optional_parameter(expr: ast.AST) -> tuple[str, str, bool] | None:
    """(owner, parameter, via .data) for ``m.bias`` / ``m.bias.data``."""
    via_data = isinstance(expr, ast.Attribute) and expr.attr == "data"
    if via_data:
        expr = expr.value  # type: ignore[attr-defined]
    if not isinstance(expr, ast.Attribute) or expr.attr not in ("weight", "bias"):
        return None
    owner = flow.dotted_name(expr.value)
    return (owner, expr.attr, via_data) if owner else None


def _init_use(facts: ModuleFacts, call: ast.Call) -> ParameterUse | None:
    qualified = facts.qualify(call.func) or ""
    if not qualified.startswith("torch.nn.init."):
        return None
    tensor = (
        call.args[0]
        if call.args
        else next((k.value for k in call.keywords if k.arg == "tensor"), None)
    )
    found = _optional_parameter(tensor) if tensor is not None else None
    if found is None:
        return None
    owner, parameter, via_data = found
    function = qualified.rsplit(".", 1)[-1]
    attribute = "data" if via_data else _INIT_FIRST_ATTRIBUTE.get(function, "")
    return ParameterUse(call, owner, parameter, attribute)


def _in_place_use(call: ast.Call) -> ParameterUse | None:
    """``m.bias.zero_()``, ``m.bias.data.fill_(0)``."""
    method = flow.method_name(call)
    if not method or not method.endswith("_") or method.startswith("_"):
        return None
    found = _optional_parameter(call.func.value)  # type: ignore[attr-defined]
    if found is None:
        return None
    owner, parameter, via_data = found
    return ParameterUse(call, owner, parameter, "data" if via_data else method)


# -- case 1: the layer is built without the parameter ------------------------------------


def _built_without(
    rule: Rule, context: RuleContext, layers: Layers, use: ParameterUse
) -> Finding | None:
    bindings = [
        layer
        for layer in layers.all
        if layers.bound_to.get(id(layer.call)) == use.owner
        and use.parameter in layer.missing
        and _same_place(context.facts, layer.call, use.call)
    ]
    if not bindings:
        return None
    if not _every_binding_lacks(context.facts, use, layers):
        return None
    layer = bindings[0]
    where = context.source.span_of(layer.call).start.line + 1
    return rule.finding(
        context,
        use.call,
        f"`{use.owner}` is built with `{layer.flag}` on line {where}, so "
        f"`{use.owner}.{use.parameter}` is None and this raises {_error(use)}",
        related=(RelatedLocation(context.source.span_of(layer.call), "built here"),),
        fixes=_fixes(context, use),
    )


def _same_place(facts: ModuleFacts, construction: ast.Call, use: ast.Call) -> bool:
    """Same function (for ``m``), or same class (for ``self.fc``)."""
    return facts.enclosing_scope(construction) is facts.enclosing_scope(use) or (
        facts.class_info_of(construction) is not None
        and facts.class_info_of(construction) is facts.class_info_of(use)
    )


def _every_binding_lacks(facts: ModuleFacts, use: ParameterUse, layers: Layers) -> bool:
    """Every assignment to the owner (in its scope or class) builds a layer without the
    parameter, and the parameter itself is never assigned."""
    lacking = {id(layer.call) for layer in layers.all if use.parameter in layer.missing}
    owner_class = facts.class_info_of(use.call)
    region: ast.AST = facts.enclosing_scope(use.call)
    if use.owner.startswith("self.") and owner_class is not None:
        region = owner_class.node  # `self.fc` may be rebuilt in any method
    for node in ast.walk(region):
        if not isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            continue
        for target in flow.assigned_targets(node):
            name = flow.dotted_name(target)
            if name == f"{use.owner}.{use.parameter}":
                return False
            if name == use.owner and id(getattr(node, "value", None)) not in lacking:
                return False
    return True


# -- cases 2 and 3: init functions dispatched on the layer type ---------------------------


def _layer_variable(facts: ModuleFacts, use: ParameterUse, applied: set[str]) -> bool:
    """``use.owner`` is the module an init function or ``modules()`` loop receives."""
    if "." in use.owner:
        return False
    for node in facts.ancestors(use.call):
        if isinstance(node, (ast.For, ast.AsyncFor)) and _iterates_modules(node, use.owner):
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = [a.arg for a in node.args.posonlyargs + node.args.args]
            if arguments[:1] in (["self"], ["cls"]):
                arguments = arguments[1:]
            return node.name in applied and arguments[:1] == [use.owner]
    return False


def _iterates_modules(loop: ast.For | ast.AsyncFor, owner: str) -> bool:
    iterable = loop.iter
    if not (isinstance(iterable, ast.Call) and flow.method_name(iterable) in _MODULE_ITERATORS):
        return False
    target = loop.target
    if flow.method_name(iterable) in ("named_modules", "named_children"):
        if not (isinstance(target, ast.Tuple) and len(target.elts) == 2):
            return False
        target = target.elts[1]
    return isinstance(target, ast.Name) and target.id == owner


def _hasattr_guard(facts: ModuleFacts, use: ParameterUse) -> ast.Call | None:
    """The ``hasattr(m, "bias")`` of an enclosing ``if`` test (alone or in an ``and``)."""
    child: ast.AST = use.call
    for parent in facts.ancestors(use.call):
        if isinstance(parent, flow.SCOPE_TYPES):
            return None
        if isinstance(parent, ast.If) and child in parent.body:
            for operand in _and_operands(parent.test):
                if _is_hasattr(operand, use.owner, use.parameter):
                    return operand  # type: ignore[return-value]
        child = parent
    return None


def _and_operands(test: ast.expr) -> list[ast.expr]:
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return list(test.values)
    return [test]


def _is_hasattr(expr: ast.AST, owner: str, parameter: str) -> bool:
    return (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Name)
        and expr.func.id == "hasattr"
        and len(expr.args) == 2
        and flow.dotted_name(expr.args[0]) == owner
        and isinstance(expr.args[1], ast.Constant)
        and expr.args[1].value == parameter
    )


def _hasattr_only(
    rule: Rule, context: RuleContext, layers: Layers, use: ParameterUse, applied: set[str]
) -> Finding | None:
    facts = context.facts
    if not _layer_variable(facts, use, applied):
        return None
    guard = _hasattr_guard(facts, use)
    if guard is None:
        return None
    # `hasattr(m, "weight")` is everyday code; report it only when this file really
    # builds a layer without a weight. A missing bias is common enough to report always.
    if use.parameter != "bias" and not any(use.parameter in layer.missing for layer in layers.all):
        return None
    flag = "bias=False" if use.parameter == "bias" else "affine=False"
    return rule.finding(
        context,
        use.call,
        f'`hasattr({use.owner}, "{use.parameter}")` is True for a layer built with '
        f"`{flag}`, whose `{use.parameter}` is None, so this raises {_error(use)} for it",
        related=(
            RelatedLocation(context.source.span_of(guard), "this check does not exclude None"),
        ),
        fixes=_hasattr_fixes(context, use, guard),
    )


def _unguarded_dispatch(
    rule: Rule, context: RuleContext, layers: Layers, use: ParameterUse, applied: set[str]
) -> Finding | None:
    facts = context.facts
    if not layers.all or not _layer_variable(facts, use, applied):
        return None
    if _hasattr_guard(facts, use) is not None:
        return None
    dispatch = _dispatch(facts, use)
    if dispatch is None:
        return None
    names, by_substring = dispatch
    for layer in layers.all:
        if use.parameter not in layer.missing:
            continue
        matches = any(
            (name in layer.class_name) if by_substring else name == layer.class_name
            for name in names
        )
        if matches:
            line = context.source.span_of(layer.call).start.line + 1
            return rule.finding(
                context,
                use.call,
                f"this file builds `{layer.class_name}` with `{layer.flag}` (line {line}), "
                f"whose `{use.parameter}` is None, so this raises {_error(use)} for it",
                related=(RelatedLocation(context.source.span_of(layer.call), "built here"),),
                fixes=_fixes(context, use),
            )
    return None


def _dispatch(facts: ModuleFacts, use: ParameterUse) -> tuple[set[str], bool] | None:
    """The layer class names the innermost type test sends here, and whether they are
    substrings of the class name (``classname.find("Conv") != -1``)."""
    child: ast.AST = use.call
    for parent in facts.ancestors(use.call):
        if isinstance(parent, flow.SCOPE_TYPES):
            return None
        if isinstance(parent, ast.If) and child in parent.body:
            for operand in _and_operands(parent.test):
                found = _type_test(facts, operand, use.owner)
                if found is not None:
                    return found
        child = parent
    return None


def _type_test(facts: ModuleFacts, test: ast.AST, owner: str) -> tuple[set[str], bool] | None:
    if isinstance(test, ast.Call) and isinstance(test.func, ast.Name):
        if (
            test.func.id == "isinstance"
            and len(test.args) == 2
            and flow.dotted_name(test.args[0]) == owner
        ):
            types = test.args[1].elts if isinstance(test.args[1], ast.Tuple) else [test.args[1]]
            return {_class_name(facts, t) for t in types}, False
        return None
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        left, right = test.left, test.comparators[0]
        if isinstance(test.ops[0], (ast.Is, ast.Eq)) and _is_type_of(left, owner):
            return {_class_name(facts, right)}, False
        if isinstance(test.ops[0], ast.In) and isinstance(left, ast.Constant):
            return ({str(left.value)}, True) if _is_class_name_of(right, owner) else None
        # classname.find("Conv") != -1
        if isinstance(left, ast.Call) and flow.method_name(left) == "find" and left.args:
            receiver = left.func.value  # type: ignore[attr-defined]
            if isinstance(left.args[0], ast.Constant) and _is_class_name_of(receiver, owner):
                return {str(left.args[0].value)}, True
    return None


def _class_name(facts: ModuleFacts, expr: ast.AST) -> str:
    qualified = facts.qualify(expr) or flow.dotted_name(expr) or ""
    return qualified.rsplit(".", 1)[-1]


def _is_type_of(expr: ast.AST, owner: str) -> bool:
    """``type(m)`` or ``m.__class__``."""
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "type":
        return len(expr.args) == 1 and flow.dotted_name(expr.args[0]) == owner
    return flow.dotted_name(expr) == f"{owner}.__class__"


def _is_class_name_of(expr: ast.AST, owner: str) -> bool:
    """``m.__class__.__name__``, or a name the code calls ``classname`` for it."""
    name = flow.dotted_name(expr)
    return name in (f"{owner}.__class__.__name__", "classname", "class_name", "cls_name")


# -- messages and fixes ---------------------------------------------------------------------


def _error(use: ParameterUse) -> str:
    if not use.attribute:
        return "AttributeError"
    return f"AttributeError: 'NoneType' object has no attribute '{use.attribute}'"


def _fixes(context: RuleContext, use: ParameterUse) -> tuple[Fix, ...]:
    target = f"{use.owner}.{use.parameter}"
    statement = context.facts.enclosing_statement(use.call)
    if statement is None or not isinstance(statement, ast.Expr) or statement.value is not use.call:
        return ()
    edit = edits.wrap_in_if(context.source, statement, f"{target} is not None")
    if edit is None:
        return ()
    return (Fix(f"Wrap in `if {target} is not None:`", FixSafety.SAFE, (edit,)),)


def _hasattr_fixes(context: RuleContext, use: ParameterUse, guard: ast.Call) -> tuple[Fix, ...]:
    target = f"{use.owner}.{use.parameter}"
    if _dispatch(context.facts, use) is not None and _dispatch_is_isinstance(context, use):
        replacement = f"{target} is not None"
    else:
        # Without a type test, `m` may be a layer without the attribute at all (ReLU).
        replacement = f'getattr({use.owner}, "{use.parameter}", None) is not None'
    edit = TextEdit(context.source.span_of(guard), replacement)
    return (
        Fix(
            f"Replace `{context.source.node_text(guard)}` with `{replacement}`",
            FixSafety.SAFE,
            (edit,),
        ),
    )


def _dispatch_is_isinstance(context: RuleContext, use: ParameterUse) -> bool:
    """The type test names torch.nn layers only (they all define the parameter)."""
    dispatch = _dispatch(context.facts, use)
    if dispatch is None or dispatch[1]:
        return False
    return all(
        name in _LAYERS_WITH_OPTIONAL_PARAMETERS.get(use.parameter, ()) for name in dispatch[0]
    )


# torch.nn layers whose `weight` / `bias` attribute always exists (possibly None).
_LAYERS_WITH_OPTIONAL_PARAMETERS: dict[str, frozenset[str]] = {
    "bias": frozenset(
        {
            "Linear",
            "Bilinear",
            "Conv1d",
            "Conv2d",
            "Conv3d",
            "ConvTranspose1d",
            "ConvTranspose2d",
            "ConvTranspose3d",
            "LazyLinear",
            "LazyConv1d",
            "LazyConv2d",
            "LazyConv3d",
            "BatchNorm1d",
            "BatchNorm2d",
            "BatchNorm3d",
            "InstanceNorm1d",
            "InstanceNorm2d",
            "InstanceNorm3d",
            "GroupNorm",
            "LayerNorm",
            "SyncBatchNorm",
        }
    ),
    "weight": frozenset(
        {
            "RMSNorm",
            "BatchNorm1d",
            "BatchNorm2d",
            "BatchNorm3d",
            "InstanceNorm1d",
            "InstanceNorm2d",
            "InstanceNorm3d",
            "GroupNorm",
            "LayerNorm",
            "SyncBatchNorm",
            "Linear",
            "Conv1d",
            "Conv2d",
            "Conv3d",
            "Embedding",
        }
    ),
}


RULE = Rule(
    code="GG304",
    name="init-on-optional-parameter",
    summary="Initialiser or in-place call on a layer parameter that can be None",
    severity=Severity.WARNING,
    fix_availability=FixAvailability.SOMETIMES,
    doc=__doc__ or "",
    check_function=check,
    example_outcome=Raises("AttributeError", "'NoneType' object has no attribute 'zero_'"),
    # Every finding is a call on a layer's `.bias` or `.weight`.
    required_words=(".bias", ".weight"),
)
