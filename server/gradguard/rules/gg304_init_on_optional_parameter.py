"""## What it does
Checks for initialisers and in-place calls on a layer's optional parameter
(`nn.init.zeros_(m.bias)`, `nn.init.constant_(m.bias, 0)`, `m.bias.data.zero_()`,
`m.bias.fill_(...)`) where that parameter can be `None`:
- the layer is built in this file with `bias=False` (or `affine=False`,
  `elementwise_affine=False` for `weight` and `bias`), as a keyword or positional
  argument, or is an `InstanceNorm` layer, whose `affine` is `False` by default. The
  `False` may arrive through the program: a variable, a parameter that a call in this
  file passes `False` (`Block(64, bias=False)` for `nn.Linear(d, d, bias=bias)`), a
  config dict, a dataclass field, `**kwargs`, or a `functools.partial(nn.BatchNorm2d,
  affine=False)` kept in a variable, dict or field; the init function may be reached
  through a registry (`init = INITS["zeros"]; init(fc.bias)`). When some calls pass
  `False` and others `True`, the call is reported only where it runs for every layer
  that construction builds (the same function, or a method of the same class); a
  function that tests the flag (`if bias:`) is not reported when the `False` comes
  from elsewhere;
- inside an init function dispatched on the layer type (`model.apply(fn)`,
  `for m in model.modules()`, a helper called there with `m`) that checks only
  `hasattr(m, "bias")`;
- inside such a function with no check at all, for a layer type this file builds without
  that parameter (the type test may be in the loop that calls the helper:
  `if isinstance(m, nn.BatchNorm2d): constant_init(m, 1)`).

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
from dataclasses import dataclass

from gradguard.analysis import edits, flow, layer_dispatch, none_guards
from gradguard.findings import Finding, Fix, FixSafety, RelatedLocation, Severity, TextEdit
from gradguard.rules.base import FixAvailability, Raises, Rule, RuleContext
from gradguard.semantic.catalogue.optional_parameters import (
    HAS_ATTRIBUTE,
    INIT_FIRST_ATTRIBUTE,
    INIT_MODULE,
    layers_leaving_none,
)
from gradguard.semantic.constants import Partial, Reference
from gradguard.semantic.layer_flags import Absence
from gradguard.semantic.model import SemanticModel
from gradguard.semantic.reads import ReadLog


@dataclass(frozen=True)
class ParameterUse:
    call: ast.Call
    owner_node: ast.expr  # `m` of `m.bias`
    owner: str  # "m", "self.fc"
    parameter: str  # "bias"
    attribute: str  # what is read on None first: "zero_", "data", "fill_" ("": several)

    @property
    def target(self) -> str:
        return f"{self.owner}.{self.parameter}"


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    facts = context.facts
    semantic = SemanticModel.of(facts)
    reads = ReadLog.of(facts)
    if reads is not None:  # the editor: any layer's flag, `.apply(init)`, `hasattr` in the file
        reads.scan(r"\bFalse\b|InstanceNorm|\bapply\b|\bhasattr\b")
    uses = [u for c in facts.nodes_of(ast.Call) if (u := _use(semantic, c)) is not None]  # type: ignore[arg-type]
    applied = layer_dispatch.applied_functions(facts) if uses else set()
    for use in uses:
        if none_guards.is_guarded(use.call, use.target, facts.parents):
            continue
        finding = _built_without(rule, context, semantic, use) or _dispatched(
            rule, context, semantic, use, applied
        )
        if finding is not None:
            yield finding


# -- the calls that touch an optional parameter -------------------------------------------


def _use(semantic: SemanticModel, call: ast.Call) -> ParameterUse | None:
    """``nn.init.zeros_(m.bias)`` (also through a variable or registry holding the init
    function), ``m.bias.zero_()``, ``m.bias.data.fill_(0)``."""
    method = flow.method_name(call)
    if method and method.endswith("_") and not method.startswith("_"):
        found = _optional_parameter(call.func.value)  # type: ignore[attr-defined]
        if found is not None:
            return ParameterUse(call, *found[:3], "data" if found[3] else method)
    tensor = (
        call.args[0]
        if call.args
        else next((k.value for k in call.keywords if k.arg == "tensor"), None)
    )
    found = _optional_parameter(tensor) if tensor is not None else None
    if found is None:
        return None
    functions = _init_functions(semantic, call)
    if not functions:
        return None
    attributes = {"data" if found[3] else INIT_FIRST_ATTRIBUTE.get(f, "") for f in functions}
    return ParameterUse(call, *found[:3], attributes.pop() if len(attributes) == 1 else "")


def _optional_parameter(expr: ast.AST) -> tuple[ast.expr, str, str, bool] | None:
    """(owner node, owner, parameter, via .data) for ``m.bias`` / ``m.bias.data``."""
    via_data = isinstance(expr, ast.Attribute) and expr.attr == "data"
    if via_data:
        expr = expr.value  # type: ignore[attr-defined]
    if not isinstance(expr, ast.Attribute) or expr.attr not in ("weight", "bias"):
        return None
    owner = flow.dotted_name(expr.value)
    return (expr.value, owner, expr.attr, via_data) if owner else None


def _init_functions(semantic: SemanticModel, call: ast.Call) -> set[str]:
    """The ``torch.nn.init`` functions ``call`` calls (empty: maybe something else)."""
    qualified = semantic.facts.qualify(call.func) or ""
    if qualified.startswith(INIT_MODULE):
        return {qualified.removeprefix(INIT_MODULE)}
    if not isinstance(call.func, (ast.Name, ast.Subscript, ast.Attribute)):
        return set()
    functions: set[str] = set()
    for item in semantic.constant_of(call.func):
        options = item.function if isinstance(item, Partial) else {item}
        for option in options:
            if not (isinstance(option, Reference) and option.qualified.startswith(INIT_MODULE)):
                return set()
            functions.add(option.qualified.removeprefix(INIT_MODULE))
    return functions


# -- case 1: the layer is built without the parameter ------------------------------------


def _built_without(
    rule: Rule, context: RuleContext, semantic: SemanticModel, use: ParameterUse
) -> Finding | None:
    layers = semantic.value_of(use.owner_node)
    absences = [semantic.absence_at(obj, use.parameter, use.call) for obj in layers]
    if not absences or None in absences:
        return None  # not every layer it may hold lacks the parameter here
    absence = max(absences, key=lambda a: (a.known, a.written_at_build))  # type: ignore[union-attr]
    assert absence is not None
    source = context.source
    where = source.span_of(absence.call).start.line + 1
    related = [RelatedLocation(source.span_of(absence.call), "built here")]
    if absence.written_at_build:
        built = f"is built with `{_flag_text(absence)}` on line {where}"
        result = "is None"
    else:
        line = source.span_of(absence.source.site).start.line + 1
        related.append(
            RelatedLocation(source.span_of(absence.source.site), "False comes from here")
        )
        if absence.known:
            built = f"is built on line {where} with `{absence.flag}=False` (from line {line})"
            result = "is None"
        else:
            built = (
                f"is built on line {where} with `{absence.flag}=False` "
                f"when it gets the value from line {line}"
            )
            result = "is None then"
    return rule.finding(
        context,
        use.call,
        f"`{use.owner}` {built}, so `{use.target}` {result} and this raises {_error(use)}",
        related=related,
        fixes=_fixes(context, use),
    )


def _flag_text(absence: Absence) -> str:
    default = " (its default)" if absence.source.default else ""
    return f"{absence.flag}=False{default}"


# -- cases 2 and 3: init functions dispatched on the layer type ---------------------------


def _dispatched(
    rule: Rule, context: RuleContext, semantic: SemanticModel, use: ParameterUse, applied: set[str]
) -> Finding | None:
    facts = context.facts
    if not layer_dispatch.is_layer_variable(facts, use.owner, use.call, applied):
        return None
    guard = layer_dispatch.hasattr_guard(facts, use.call, use.owner, use.parameter)
    if guard is not None:
        # `hasattr(m, "weight")` is everyday code; report it only when this file really
        # builds a layer without a weight. A missing bias is common enough to report always.
        if use.parameter != "bias" and not semantic.every_absence(use.parameter):
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
    dispatch = layer_dispatch.dispatch(facts, use.call, use.owner) or (
        layer_dispatch.caller_dispatch(facts, use.call, use.owner)
    )
    if dispatch is None:
        return None
    names, by_substring = dispatch
    if not any(_dispatched_to(c, names, by_substring) for c in _LEAVING_NONE[use.parameter]):
        return None  # no layer it dispatches to can lack the parameter: nothing to look for
    for absence in semantic.every_absence(use.parameter):
        if _dispatched_to(absence.class_name, names, by_substring):
            class_name = absence.class_name
            line = context.source.span_of(absence.call).start.line + 1
            builds = "builds" if absence.known else "can build"
            return rule.finding(
                context,
                use.call,
                f"this file {builds} `{class_name}` with `{_flag_text(absence)}` (line {line}), "
                f"whose `{use.parameter}` is None, so this raises {_error(use)} for it",
                related=(RelatedLocation(context.source.span_of(absence.call), "built here"),),
                fixes=_fixes(context, use),
            )
    return None


_LEAVING_NONE = {parameter: layers_leaving_none(parameter) for parameter in ("weight", "bias")}


def _dispatched_to(class_name: str, names: set[str], by_substring: bool) -> bool:
    return any((n in class_name) if by_substring else n == class_name for n in names)


# -- messages and fixes ---------------------------------------------------------------------


def _error(use: ParameterUse) -> str:
    if not use.attribute:
        return "AttributeError"
    return f"AttributeError: 'NoneType' object has no attribute '{use.attribute}'"


def _fixes(context: RuleContext, use: ParameterUse) -> tuple[Fix, ...]:
    statement = context.facts.enclosing_statement(use.call)
    if statement is None or not isinstance(statement, ast.Expr) or statement.value is not use.call:
        return ()
    edit = edits.wrap_in_if(context.source, statement, f"{use.target} is not None")
    if edit is None:
        return ()
    return (Fix(f"Wrap in `if {use.target} is not None:`", FixSafety.SAFE, (edit,)),)


def _hasattr_fixes(context: RuleContext, use: ParameterUse, guard: ast.Call) -> tuple[Fix, ...]:
    dispatch = layer_dispatch.dispatch(context.facts, use.call, use.owner)
    if dispatch is not None and not dispatch[1] and dispatch[0] <= HAS_ATTRIBUTE[use.parameter]:
        replacement = f"{use.target} is not None"  # the type test names torch.nn layers only
    else:
        # Without a type test, `m` may be a layer without the attribute at all (ReLU).
        replacement = f'getattr({use.owner}, "{use.parameter}", None) is not None'
    edit = TextEdit(context.source.span_of(guard), replacement)
    title = f"Replace `{context.source.node_text(guard)}` with `{replacement}`"
    return (Fix(title, FixSafety.SAFE, (edit,)),)


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
