"""## What it does
Checks for parameters and layers that a module will not register, so that
`model.parameters()` and the optimizer never see them:

- `self.w = nn.Parameter(t).double()` (or `.to(device)`, `.cuda()`, `.float()`...);
- a plain `list`, `tuple` or `dict` of layers or parameters stored on the module in
  `__init__` (`self.layers = [nn.Linear(4, 4), nn.Linear(4, 4)]`), also when it starts
  empty and layers are appended or assigned into it later (reported at the attribute's
  assignment);
- a dict of dicts (or any nesting of plain containers) of parameters or layers:
  `self.heads = {task: {"w": nn.Parameter(...)} for task in tasks}`, or
  `self.adapters[name]["down"] = nn.Parameter(...)` in a loop;
- `self.scale = nn.Parameter(...)` inside `forward`.

## Why is this bad?
`nn.Module` registers an attribute only when it is an `nn.Parameter` or an `nn.Module`.
A conversion of a new Parameter returns a plain tensor, and Python lists and dicts are
neither, so what they hold is invisible to `parameters()`, `state_dict()`, `.to()` and the
optimizer: it is never trained, and nothing reports it. A Parameter created in `forward`
is a new, untrained tensor on every call.

## What PyTorch does
`nn.Parameter(t).double()` returns a plain non-leaf tensor (`grad_fn=ToCopyBackward0`),
and `named_parameters()` does not list it. `nn.Parameter(t).to("cpu")` returns the
Parameter itself when nothing changes, so on CPU the bug stays hidden until the device
or dtype differs. A plain list of layers registers 0 parameters: those layers are never
updated by the optimizer. The Parameters of a dict of dicts are missing from
`named_parameters()` and `state_dict()`, an optimizer built from `model.parameters()` does
not hold them, and `model.to(torch.float64)` leaves them `float32`.
`self.scale = nn.Parameter(...)` in `forward` makes a new Parameter every call, which no
optimizer built before holds.

## Example
```python
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = [nn.Linear(4, 4), nn.Linear(4, 4)]
        self.head = nn.Linear(4, 1)

    def forward(self, x):
        for block in self.blocks:
            x = torch.relu(block(x))
        return self.head(x)


model = Net()
before = model.blocks[0].weight.clone()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(2):
    optimizer.zero_grad()
    loss = model(torch.randn(8, 4)).pow(2).mean()
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
        self.blocks = nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 4)])
        self.head = nn.Linear(4, 1)

    def forward(self, x):
        for block in self.blocks:
            x = torch.relu(block(x))
        return self.head(x)


model = Net()
before = model.blocks[0].weight.clone()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(2):
    optimizer.zero_grad()
    loss = model(torch.randn(8, 4)).pow(2).mean()
    loss.backward()
    optimizer.step()
```

## Fix safety
Moving the conversion inside, `nn.Parameter(t.double())`, is safe: the attribute gets the
intended dtype or device and is registered. Wrapping a list or dict in `nn.ModuleList`,
`nn.ModuleDict`, `nn.ParameterList` or `nn.ParameterDict` is safe; it is offered only
when every use of the attribute in the class is supported by the wrapper (and dict keys
are strings); none is offered for a nested container. Moving a Parameter's creation from
`forward` to the end of `__init__` is unsafe (the value is then created once, and trained);
it is offered only when the creation reads nothing that `__init__` does not have. The
wrapper fix writes the name
the file already uses for `torch.nn` (`nn`, an alias, `torch.nn`, or a directly imported
`ModuleList`); when the file has none, no wrapper fix is offered.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import partial

from gradguard.analysis import flow, torchnames
from gradguard.analysis.demand import reported_if
from gradguard.analysis.edits import containing_block, removal_edit
from gradguard.analysis.facts import ClassInfo, ModuleFacts, self_attribute
from gradguard.findings import Finding, Fix, FixSafety, Position, Severity, Span, TextEdit
from gradguard.rules.base import FixAvailability, Rule, RuleContext, Silent
from gradguard.rules.registration_fixes import assigns_self, computable_in_init, wrap_fix
from gradguard.semantic.containers import PlainContainer, plain_container
from gradguard.semantic.model import SemanticModel


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    for info in context.facts.classes.values():
        # Whether the class is a module may ask jedi (an imported base): asked only of a
        # class with something to report.
        yield from reported_if(info, partial(_check_class, rule, context), _is_module)


def _is_module(info: ClassInfo) -> bool:
    return info.is_module


def _check_class(rule: Rule, context: RuleContext, info: ClassInfo) -> Iterator[Finding]:
    for node in context.facts.class_statements(info.node):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            yield from _check_assignment(rule, context, info, node)


def _check_assignment(
    rule: Rule, context: RuleContext, info: ClassInfo, stmt: ast.Assign
) -> Iterator[Finding]:
    attr = self_attribute(stmt.targets[0])
    if attr is None:
        return
    function = context.facts.enclosing_function(stmt)
    if function is None or context.facts.class_info_of(function) is not info:
        return
    if function.name == "forward" and _parameter_creation(context, stmt.value) is not None:
        if not _lazy_guard(context, stmt, function, attr):
            yield _forward_finding(rule, context, info, stmt, attr, function)
        return
    moved = _converted_parameter(context, stmt.value)
    if moved is not None:
        reassigned = _assigned_elsewhere(context.facts, info, stmt, attr)
        yield _conversion_finding(rule, context, stmt, attr, moved, offer_fix=not reassigned)
        return
    if function.name == "__init__":
        model = SemanticModel.of(context.facts)
        container = plain_container(model, info.node, stmt, attr, function)
        if container is not None:
            yield _container_finding(rule, context, info, stmt, attr, container)


# -- nn.Parameter(t).double() ----------------------------------------------------------


def _parameter_creation(context: RuleContext, value: ast.expr) -> ast.Call | None:
    """The ``nn.Parameter(...)`` call at the root of ``value`` (through move methods)."""
    while isinstance(value, ast.Call) and flow.method_name(value) in torchnames.MOVE_METHODS:
        value = value.func.value  # type: ignore[attr-defined]
    if isinstance(value, ast.Call) and context.facts.is_parameter_call(value):
        return value
    return None


def _converted_parameter(context: RuleContext, value: ast.expr) -> ast.Call | None:
    """``nn.Parameter(t)`` when ``value`` is ``nn.Parameter(t).double()`` and the like."""
    if not (isinstance(value, ast.Call) and flow.method_name(value) in torchnames.MOVE_METHODS):
        return None
    return _parameter_creation(context, value)


def _assigned_elsewhere(facts: ModuleFacts, info: ClassInfo, stmt: ast.Assign, attr: str) -> bool:
    """Another ``self.<attr> = ...`` in the class: once the fix registers the Parameter,
    that assignment would start raising (a plain tensor over a parameter), so the fix
    would not be behaviour-preserving there."""
    return any(
        isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign))
        and node is not stmt
        and any(self_attribute(t) == attr for t in flow.assigned_targets(node))
        for node in facts.class_statements(info.node)
    )


def _conversion_finding(
    rule: Rule,
    context: RuleContext,
    stmt: ast.Assign,
    attr: str,
    creation: ast.Call,
    *,
    offer_fix: bool = True,
) -> Finding:
    method = flow.method_name(stmt.value)  # type: ignore[arg-type]
    return rule.finding(
        context,
        stmt,
        f"`.{method}()` on a new Parameter returns a plain non-leaf tensor whenever it "
        f"converts, so `self.{attr}` is not registered: `parameters()` and the optimizer "
        f"never see it",
        fixes=_conversion_fix(context, stmt.value, creation) if offer_fix else (),
    )


def _conversion_fix(context: RuleContext, value: ast.expr, creation: ast.Call) -> tuple[Fix, ...]:
    """``nn.Parameter(t).double()`` -> ``nn.Parameter(t.double())``."""
    data = creation.args[0] if creation.args else None
    if data is None or isinstance(data, ast.Starred):
        return ()
    source = context.source
    tail = Span(source.span_of(creation).end, source.span_of(value).end)
    chain = source.segment(tail)
    data_text = source.node_text(data)
    if not isinstance(data, (ast.Name, ast.Attribute, ast.Call, ast.Subscript)):
        data_text = f"({data_text})"
    edits = (TextEdit(source.span_of(data), f"{data_text}{chain}"), TextEdit(tail, ""))
    title = f"Move `{' '.join(chain.split())}` inside the Parameter"
    return (Fix(title, FixSafety.SAFE, edits),)


# -- self.scale = nn.Parameter(...) in forward -----------------------------------------


def _lazy_guard(context: RuleContext, stmt: ast.stmt, function: ast.AST, attr: str) -> bool:
    """``if not hasattr(self, "scale"):`` / ``if self.scale is None:`` creates it once."""
    for parent in context.facts.ancestors(stmt):
        if parent is function:
            return False
        if isinstance(parent, (ast.If, ast.While)):
            for node in ast.walk(parent.test):
                if isinstance(node, ast.Name) and node.id in ("hasattr", "getattr"):
                    return True
                if isinstance(node, ast.Attribute) and self_attribute(node) == attr:
                    return True
    return False


def _forward_finding(
    rule: Rule,
    context: RuleContext,
    info: ClassInfo,
    stmt: ast.Assign,
    attr: str,
    function: ast.FunctionDef | ast.AsyncFunctionDef,
) -> Finding:
    return rule.finding(
        context,
        stmt,
        f"`self.{attr}` gets a new Parameter every time `forward` runs this line: the "
        f"optimizer never holds it, so it is never trained",
        fixes=_move_to_init_fix(context, info, stmt, attr, function),
    )


def _move_to_init_fix(
    context: RuleContext,
    info: ClassInfo,
    stmt: ast.Assign,
    attr: str,
    forward: ast.FunctionDef | ast.AsyncFunctionDef,
) -> tuple[Fix, ...]:
    init = info.methods.get("__init__")
    if init is None or _converted_parameter(context, stmt.value) is not None:
        return ()
    if not computable_in_init(stmt.value, init, forward) or assigns_self(init, attr):
        return ()
    last = init.body[-1]
    if init.body[0].lineno == init.lineno or isinstance(last, ast.Return):
        return ()
    block = containing_block(context.facts.parents, stmt)
    removal = removal_edit(context.source, stmt, block) if block is not None else None
    if removal is None:
        return ()
    source = context.source
    indent = source.indentation_of(init.body[0].lineno - 1)
    text = source.node_text(stmt)
    end_line = last.end_lineno or last.lineno  # 1-based: the 0-based index of the next line
    if end_line < len(source.line_starts):
        insertion = source.insert_at(Position(end_line, 0), f"{indent}{text}{source.newline}")
    else:
        insertion = source.insert_at(
            source.line_end(end_line - 1), f"{source.newline}{indent}{text}"
        )
    return (
        Fix("Move the Parameter creation to `__init__`", FixSafety.UNSAFE, (insertion, removal)),
    )


# -- plain lists and dicts of layers -------------------------------------------------------


def _container_finding(
    rule: Rule,
    context: RuleContext,
    info: ClassInfo,
    stmt: ast.Assign,
    attr: str,
    container: PlainContainer,
) -> Finding:
    kinds = container.kinds
    holds = "layers" if kinds == {"module"} else "parameters"
    if kinds == {"module", "parameter"} or None in kinds:
        holds = "layers or parameters"
    if container.inner is not None:  # measured: `.to()` leaves them where they were too
        inner = "containers" if container.inner == "containers" else f"{container.inner}s"
        return rule.finding(
            context,
            stmt,
            f"`self.{attr}` is a plain {container.shape} of {inner}, so the {holds} it "
            f"holds are not registered: `parameters()`, `.to()` and the optimizer never "
            f"see them, and they are never trained",
        )
    return rule.finding(
        context,
        stmt,
        f"`self.{attr}` is a plain {container.shape}, so the {holds} it holds are not registered: "
        f"`parameters()` and the optimizer never see them, and they are never trained",
        fixes=wrap_fix(context, info, stmt, attr, container),
    )


RULE = Rule(
    code="GG203",
    name="parameter-not-registered",
    summary="Parameters or layers the module does not register",
    severity=Severity.WARNING,
    fix_availability=FixAvailability.SOMETIMES,
    doc=__doc__ or "",
    check_function=check,
    example_outcome=Silent(
        check=(
            "assert torch.equal(model.blocks[0].weight, before)\n"
            "assert len(list(model.parameters())) == 2"
        )
    ),
    use_instead_check="assert not torch.equal(model.blocks[0].weight, before)",
)
