"""## What it does
Checks for a model, one of its submodules, or one of its parameters that is replaced
after an optimizer was created from the model's parameters, while that optimizer is
still used afterwards: `model = Net()` or `model = copy.deepcopy(model)` again,
`model.fc = nn.Linear(...)`, `model.fc.weight = nn.Parameter(...)`,
`nn.utils.parametrizations.weight_norm(model.fc)` or the older
`torch.nn.utils.weight_norm(model.fc)`, also when the replacement happens inside a
function of the same file that is called with the model.

## Why is this bad?
An optimizer holds references to the Parameter objects it was given when it was
created. A new model, layer or Parameter brings new Parameter objects that the optimizer
has never seen: training runs without an error, but the new part is never updated.

## What PyTorch does
After `optimizer = SGD(model.parameters())` and then `model.fc = nn.Linear(4, 3)`, the
new `fc` is not in the optimizer: its weights never change, and because
`optimizer.zero_grad()` does not clear its `.grad` either, the gradient keeps
accumulating. `model = Model()` and `model = copy.deepcopy(model)` leave the optimizer
stepping the old parameters; `model.fc.weight = nn.Parameter(...)` is never updated; and
`nn.utils.parametrizations.weight_norm(m)` registers new `original0`/`original1`
parameters that are not in the optimizer (only the bias keeps training).

Not flagged, because the parameters stay the same objects: `load_state_dict`, `.to()`,
`.cuda()`, `.double()`, `.half()`, `nn.DataParallel(model)`, `reset_parameters()`,
`torch.nn.utils.prune.*`, `requires_grad_(False)`, an in-place `copy_` under
`torch.no_grad()`, `spectral_norm` and `orthogonal` (their `original` is the old
Parameter). Nor is a replacement followed by `add_param_group` for the new part, or an
optimizer created again after the replacement.

## Example
```python
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(4, 4)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(torch.relu(self.backbone(x)))


model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
model.fc = nn.Linear(4, 3)  # new head for three classes

x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
for _ in range(3):
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
```

## Use instead
```python
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(4, 4)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(torch.relu(self.backbone(x)))


model = Net()
model.fc = nn.Linear(4, 3)  # new head for three classes
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
for _ in range(3):
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
```

## Fix safety
When the optimizer creation and the last replacement are in the same block and nothing
between them uses the optimizer (or rebinds a name the creation reads), the fix moves the
optimizer creation, with the comments directly above it, to just after the last
replacement. Otherwise it inserts `optimizer.add_param_group({'params': ...})` for the new
part after the replacement (for a replaced Parameter, `[model.fc.weight]`). Both fixes
are unsafe: they change which parameters are trained, and the moved creation now sees
everything the code between did to the model.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, replace

from gradguard.analysis import flow
from gradguard.analysis.edits import insert_statements_after, last_line, move_statement
from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.names import names_bound, names_read, reads_dotted
from gradguard.analysis.optimizer_uses import OptimizerTimeline, related_names
from gradguard.analysis.optimizers import OptimizerCreation, models_in
from gradguard.analysis.parameters import PARAMETERLESS_LAYERS
from gradguard.findings import Finding, Fix, FixSafety, RelatedLocation, Severity
from gradguard.rules.base import FixAvailability, Rule, RuleContext, Silent

# Wrappers share the wrapped model's parameters: assigning them is not a replacement.
_WRAPPERS = frozenset(
    {
        "torch.nn.DataParallel",
        "torch.nn.parallel.DataParallel",
        "torch.nn.parallel.DistributedDataParallel",
        "torch.nn.parallel.data_parallel.DataParallel",
        "torch.nn.parallel.distributed.DistributedDataParallel",
    }
)
# torch.nn layers without parameters: putting one in place of a layer adds nothing to train.
# Containers are left out: `nn.Sequential(nn.Linear(...))` brings new parameters.
_PARAMETER_FREE_LAYERS = PARAMETERLESS_LAYERS - {
    "Module",
    "ModuleDict",
    "ModuleList",
    "ParameterDict",
    "ParameterList",
    "Sequential",
    "DataParallel",
}
# Weight normalisation registers brand-new Parameters (measured on torch 2.13.0);
# spectral_norm / orthogonal / register_parametrization keep the original Parameter.
_WEIGHT_NORM = {
    "torch.nn.utils.weight_norm": "legacy",
    "torch.nn.utils.weight_norm.weight_norm": "legacy",
    "torch.nn.utils.parametrizations.weight_norm": "parametrization",
}
_FUNCTION_DEPTH = 2
# nn.Module methods that return the module itself.
_RETURNS_SELF = frozenset(
    {
        "to",
        "cuda",
        "cpu",
        "double",
        "half",
        "bfloat16",
        "float",
        "train",
        "eval",
        "requires_grad_",
        "share_memory",
        "apply",
        "type",
        "to_empty",
    }
)


@dataclass(frozen=True)
class Replacement:
    """One replacement of a model part, in the terms of the scope that holds it."""

    node: ast.AST  # reported: the assignment, or the call that replaces
    part: str  # dotted name of what is replaced, for matching (``model.fc``)
    part_text: str  # how to spell the new part in code (``model.layers[0]``)
    kind: str  # "model", "copy", "module", "parameter", "weight_norm"
    tensor_name: str = "weight"  # weight_norm's ``name``
    legacy: bool = False  # torch.nn.utils.weight_norm rather than parametrizations
    via: str | None = None  # same-file function that performs it
    via_line: int = 0  # 1-based line of the replacement inside that function
    adds_param_group: bool = False  # that function calls add_param_group itself


# -- finding replacements ------------------------------------------------------------------


def replacements_in(facts: ModuleFacts, stmt: ast.stmt, depth: int = 0) -> list[Replacement]:
    """Replacements performed by ``stmt``'s own code (and by same-file functions it calls
    with a model, followed ``_FUNCTION_DEPTH`` levels)."""
    found: list[Replacement] = []
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        for target in targets:
            found.extend(_assignment(facts, stmt, target, stmt.value))
    for node in flow.own_nodes(stmt):
        if isinstance(node, ast.Call):
            found.extend(_call(facts, node, depth))
    return found


def _assignment(
    facts: ModuleFacts, stmt: ast.stmt, target: ast.expr, value: ast.expr
) -> list[Replacement]:
    part, part_text = _target_part(facts, target)
    if part is None or not isinstance(value, ast.Call):
        return []
    kind = _value_kind(facts, value, part, whole=isinstance(target, ast.Name))
    return [Replacement(stmt, part, part_text, kind)] if kind else []


def _target_part(facts: ModuleFacts, target: ast.expr) -> tuple[str | None, str]:
    if isinstance(target, (ast.Name, ast.Attribute)):
        dotted = flow.dotted_name(target)
        return dotted, dotted or ""
    if isinstance(target, ast.Subscript):
        container = flow.dotted_name(target.value)
        if container:
            return container + "[]", facts.source.node_text(target)
    return None, ""


def _value_kind(facts: ModuleFacts, value: ast.Call, part: str, *, whole: bool) -> str | None:
    value = _unchained(value)
    qualified = facts.qualify(value.func) or ""
    if qualified == "copy.deepcopy":
        return "copy"
    if not whole and facts.is_parameter_call(value):
        return "parameter"
    if qualified in _WRAPPERS or qualified.rsplit(".", 1)[-1] in _PARAMETER_FREE_LAYERS:
        return None
    if qualified.startswith("torch.nn.") and qualified.endswith(".Sequential") and not value.args:
        return None  # an empty Sequential holds no parameters
    if not facts.is_module_call(value) or _wraps(value, part):
        return None
    return "model" if whole else "module"


def _unchained(value: ast.Call) -> ast.Call:
    """``Net()`` for ``Net().to(device).train()``: these methods return the module."""
    while (
        flow.method_name(value) in _RETURNS_SELF
        and isinstance(value.func, ast.Attribute)
        and isinstance(value.func.value, ast.Call)
    ):
        value = value.func.value
    return value


def _wraps(call: ast.Call, part: str) -> bool:
    """``Wrapper(model)``: an argument is the replaced object itself (or holds it)."""
    for argument in [*call.args, *(k.value for k in call.keywords)]:
        value = argument.value if isinstance(argument, ast.Starred) else argument
        dotted = flow.dotted_name(value)
        if dotted and (part == dotted or part.startswith((dotted + ".", dotted + "["))):
            return True
    return False


def _call(facts: ModuleFacts, call: ast.Call, depth: int) -> list[Replacement]:
    qualified = facts.qualify(call.func) or ""
    if qualified in _WEIGHT_NORM:
        return _weight_norm(facts, call, legacy=_WEIGHT_NORM[qualified] == "legacy")
    if qualified in ("setattr", "builtins.setattr") or (
        isinstance(call.func, ast.Name) and call.func.id == "setattr"
    ):
        return _setattr(facts, call)
    if (
        isinstance(call.func, ast.Name)
        and call.func.id in facts.functions
        and depth < _FUNCTION_DEPTH
    ):
        return _through_function(facts, call, facts.functions[call.func.id], depth)
    return []


def _weight_norm(facts: ModuleFacts, call: ast.Call, *, legacy: bool) -> list[Replacement]:
    module = call.args[0] if call.args else _keyword(call, "module")
    name_node = call.args[1] if len(call.args) > 1 else _keyword(call, "name")
    if module is None:
        return []
    # ``weight_norm(model.fc)`` or ``weight_norm(model[2])`` (a layer of a Sequential).
    part, part_text = _target_part(facts, module)
    if part is None:
        return []
    tensor_name = "weight"
    if name_node is not None:
        if not (isinstance(name_node, ast.Constant) and isinstance(name_node.value, str)):
            return []
        tensor_name = name_node.value
    return [Replacement(call, part, part_text, "weight_norm", tensor_name, legacy)]


def _setattr(facts: ModuleFacts, call: ast.Call) -> list[Replacement]:
    """``setattr(model, "fc", nn.Linear(...))``."""
    if len(call.args) != 3 or call.keywords:
        return []
    owner, name, value = call.args
    dotted = flow.dotted_name(owner)
    if not dotted or not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
        return []
    if not name.value.isidentifier() or not isinstance(value, ast.Call):
        return []
    part = f"{dotted}.{name.value}"
    kind = _value_kind(facts, value, part, whole=False)
    return [Replacement(call, part, part, kind)] if kind else []


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _through_function(
    facts: ModuleFacts,
    call: ast.Call,
    function: ast.FunctionDef | ast.AsyncFunctionDef,
    depth: int,
) -> list[Replacement]:
    """Replacements a same-file function makes on the models it is called with,
    translated to the caller's names and reported at the call."""
    arguments = _argument_names(call, function)
    if not arguments:
        return []
    found = []
    for root, inner in _function_replacements(facts, function, depth):
        if root not in arguments:
            continue
        caller = arguments[root]
        found.append(
            replace(
                inner,
                node=call,
                part=caller + inner.part[len(root) :],
                part_text=caller + inner.part_text[len(root) :],
                via=function.name,
                via_line=inner.via_line or getattr(inner.node, "lineno", 0),
            )
        )
    return found


# Per file and function: what the function replaces on its parameters. A function
# called from many places is analysed once.


def _function_replacements(
    facts: ModuleFacts, function: ast.FunctionDef | ast.AsyncFunctionDef, depth: int
) -> list[tuple[str, Replacement]]:
    """``(parameter name, replacement in the function's terms)`` for replacements of
    parts of the function's parameters, before the parameter is rebound locally."""
    cache: dict[tuple[int, int], list] = facts.shared(_function_replacements, dict)
    key = (id(function), depth)
    if key in cache:
        return cache[key]
    cache[key] = []  # recursion guard
    parameters = {a.arg for a in [*function.args.posonlyargs, *function.args.args]}
    parameters |= {a.arg for a in function.args.kwonlyargs}
    statements = facts.statements_of(function)
    adds_groups = any(
        isinstance(node, ast.Call) and flow.method_name(node) == "add_param_group"
        for info in statements
        for node in flow.own_nodes(info.node)
    )
    rebound: set[str] = set()
    found = []
    for info in statements:
        for inner in replacements_in(facts, info.node, depth + 1):
            root = inner.part.split(".")[0].split("[")[0]
            if root not in parameters or root in rebound or inner.kind in ("model", "copy"):
                continue  # a rebound parameter name no longer is the caller's model
            if inner.part == root and inner.kind != "weight_norm":
                continue
            found.append(
                (root, replace(inner, adds_param_group=inner.adds_param_group or adds_groups))
            )
        rebound |= {name for name in parameters if flow.assigns_name(info.node, name)}
    cache[key] = found
    return found


def _argument_names(
    call: ast.Call, function: ast.FunctionDef | ast.AsyncFunctionDef
) -> dict[str, str]:
    """Function parameter name -> the caller's dotted name passed for it."""
    positional = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
    names: dict[str, str] = {}
    for parameter, argument in zip(positional, call.args, strict=False):
        if isinstance(argument, ast.Starred):
            break
        dotted = flow.dotted_name(argument)
        if dotted:
            names[parameter] = dotted
    accepted = set(positional) | {a.arg for a in function.args.kwonlyargs}
    for keyword in call.keywords:
        dotted = flow.dotted_name(keyword.value)
        if keyword.arg in accepted and dotted:
            names[keyword.arg] = dotted
    return names


# -- the check ------------------------------------------------------------------------------


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    facts = context.facts
    per_scope: dict[ast.AST, list[tuple[flow.StatementInfo, Replacement]]] = {}
    # One optimizer name created in both arms of an ``if`` must give one finding.
    seen: set[tuple[object, str]] = set()
    for creation in context.optimizers.creations:
        timeline = OptimizerTimeline.of(facts, creation)
        if timeline is None or not creation.models:
            continue
        if creation.scope not in per_scope:
            per_scope[creation.scope] = [
                (info, found)
                for info in facts.statements_of(creation.scope)
                for found in replacements_in(facts, info.node)
            ]
        for finding in _check_creation(rule, context, timeline, per_scope[creation.scope]):
            if (finding.span, finding.message) not in seen:
                seen.add((finding.span, finding.message))
                yield finding


def _check_creation(
    rule: Rule,
    context: RuleContext,
    timeline: OptimizerTimeline,
    candidates: list[tuple[flow.StatementInfo, Replacement]],
) -> Iterator[Finding]:
    creation = timeline.creation
    related = [
        (info, found, model)
        for info, found in candidates
        if timeline.follows_creation(info)
        for model in [_model_of(found, creation)]
        if model is not None
    ]
    reorder = _reorder_fix(context, timeline, [info for info, _, _ in related])
    # One finding per replacing node (a called function may replace several parts).
    stale: dict[int, list[tuple[flow.StatementInfo, Replacement, str]]] = {}
    for info, found, model in related:
        if _is_stale(timeline, info, found):
            stale.setdefault(id(found.node), []).append((info, found, model))
    for group in stale.values():
        info, found, model = group[0]
        fix = reorder(info) or _add_param_group_fix(context, timeline, info, group)
        yield rule.finding(
            context,
            found.node,
            _message(found, timeline.name, model),
            related=[
                RelatedLocation(
                    context.source.span_of(creation.statement.node),
                    f"`{timeline.name}` is created here from the parameters of `{model}`",
                )
            ],
            fixes=[fix] if fix else [],
        )


def _model_of(found: Replacement, creation: OptimizerCreation) -> str | None:
    """The optimizer's model that the replacement touches, if any."""
    for model in sorted(creation.models):
        if related_names(found.part.removesuffix("[]"), model) or related_names(found.part, model):
            return model
    return None


def _is_stale(timeline: OptimizerTimeline, info: flow.StatementInfo, found: Replacement) -> bool:
    if found.adds_param_group:
        return False
    part = found.part.removesuffix("[]")
    if timeline.parameters_added_after(info, part):
        return False
    return timeline.used_after(info)


def _message(found: Replacement, optimizer: str, model: str) -> str:
    what = f"`{found.part_text}`"
    if found.via:
        return (
            f"`{found.via}()` replaces {what} (line {found.via_line}) after `{optimizer}` was "
            f"created from the parameters of `{model}`, so `{optimizer}.step()` never updates "
            "the new parameters"
        )
    if found.kind == "model":
        return (
            f"{what} is replaced by a new model after `{optimizer}` was created from its "
            f"parameters, so `{optimizer}.step()` keeps updating the old parameters and never "
            "trains the new ones"
        )
    if found.kind == "copy":
        return (
            f"{what} is replaced by a deep copy after `{optimizer}` was created from its "
            f"parameters, so `{optimizer}.step()` keeps updating the original's parameters and "
            "never trains the copy"
        )
    if found.kind == "parameter":
        return (
            f"{what} is replaced by a new Parameter after `{optimizer}` was created, so "
            f"`{optimizer}.step()` never updates it"
        )
    if found.kind == "weight_norm":
        return (
            f"`weight_norm` replaces `{found.part_text}.{found.tensor_name}` with new "
            f"parameters after `{optimizer}` was created, so `{optimizer}.step()` never "
            "updates them"
        )
    return (
        f"{what} is replaced after `{optimizer}` was created from the parameters of "
        f"`{model}`: the new {'module' if found.part == model else 'layer'}'s parameters are "
        f"not in `{optimizer}`, so "
        f"`{optimizer}.step()` never updates them and `{optimizer}.zero_grad()` never clears "
        "their gradients"
    )


# -- fixes ----------------------------------------------------------------------------------


def _reorder_fix(
    context: RuleContext, timeline: OptimizerTimeline, after: list[flow.StatementInfo]
):
    """A function giving, for a replacement's statement, the "move the optimizer creation
    below the last replacement" fix, or None when it does not apply to it."""
    creation = timeline.creation.statement
    block = creation.block
    anchors = {id(info.node): _index_in_block(context.facts, info.node, block) for info in after}
    first_use = next(
        (
            index
            for index in range(creation.index + 1, len(block))
            if reads_dotted(block[index], timeline.name)
        ),
        len(block),
    )
    usable = [i for i in anchors.values() if i is not None and creation.index < i < first_use]
    fix = _move_creation(context, timeline, max(usable)) if usable else None

    def for_statement(info: flow.StatementInfo) -> Fix | None:
        index = anchors.get(id(info.node))
        if fix is None or index is None or not creation.index < index < first_use:
            return None
        return fix

    return for_statement


def _index_in_block(facts: ModuleFacts, node: ast.AST, block: list[ast.stmt]) -> int | None:
    """Index in ``block`` of the statement of ``block`` that holds ``node``."""
    ids = {id(stmt): index for index, stmt in enumerate(block)}
    for candidate in [node, *facts.ancestors(node)]:
        if id(candidate) in ids:
            return ids[id(candidate)]
    return None


def _move_creation(context: RuleContext, timeline: OptimizerTimeline, last: int) -> Fix | None:
    creation = timeline.creation
    if creation.params is None or not models_in(creation.params):
        # ``params = list(model.parameters())`` earlier: a later creation would still
        # receive the old parameters.
        return None
    block = creation.statement.block
    statement = creation.statement.node
    between = block[creation.statement.index + 1 : last + 1]
    model_roots = {m.split(".")[0].split("[")[0] for m in creation.models}
    reads = names_read(statement) - model_roots
    binds = names_bound(statement) - {timeline.name}
    for stmt in between:
        if names_bound(stmt) & reads or names_read(stmt) & binds:
            return None
    edits = move_statement(context.source, statement, after=block[last])
    if edits is None:
        return None
    line = last_line(block[last]) + 1
    return Fix(f"Move the optimizer creation below line {line}", FixSafety.UNSAFE, edits)


def _add_param_group_fix(
    context: RuleContext,
    timeline: OptimizerTimeline,
    info: flow.StatementInfo,
    group: list[tuple[flow.StatementInfo, Replacement, str]],
) -> Fix | None:
    if not isinstance(info.node, (ast.Assign, ast.AnnAssign, ast.Expr)):
        return None
    new_parts = dict.fromkeys(_new_parameters(found, model) for _, found, model in group)
    statements = [
        f"{timeline.name}.add_param_group({{'params': {parameters}}})" for parameters in new_parts
    ]
    edit = insert_statements_after(context.source, info.node, statements)
    if edit is None:
        return None
    return Fix(
        f"Add the new parameters to `{timeline.name}` with `add_param_group`",
        FixSafety.UNSAFE,
        (edit,),
    )


def _new_parameters(found: Replacement, model: str) -> str:
    """The expression for the parameters the replacement brings."""
    part = found.part_text
    if found.kind == "parameter":
        return f"[{part}]"
    if found.kind == "weight_norm":
        name = found.tensor_name
        if found.legacy:
            return f"[{part}.{name}_g, {part}.{name}_v]"
        return f"{part}.parametrizations.{name}.parameters()"
    if model.startswith(found.part + "."):
        part = model  # the optimizer only held this submodule of the replaced model
    return f"{part}.parameters()"


RULE = Rule(
    code="GG102",
    name="stale-optimizer",
    summary="A model, submodule or parameter is replaced after the optimizer was created",
    severity=Severity.WARNING,
    fix_availability=FixAvailability.SOMETIMES,
    doc=__doc__ or "",
    check_function=check,
    example_outcome=Silent(
        check=(
            "assert model.fc.weight.grad is not None and all("
            "p is not model.fc.weight for g in optimizer.param_groups for p in g['params'])"
        )
    ),
    use_instead_check=(
        "assert any(p is model.fc.weight for g in optimizer.param_groups for p in g['params'])"
    ),
)
