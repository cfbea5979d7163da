"""## What it does
Checks for `model.to(...)`, `model.cuda()`, `model.double()`, `model.half()` and
`model.bfloat16()` called after an optimizer was created from that model's parameters,
while the optimizer is still used afterwards, also inside a function of another module of
the workspace that is given the model (`to_device(model, device)` from `utils.py`, when
jedi is on). An optimizer a trainer holds is followed too: built by its `__init__` or
handed to `Trainer(model, optimizer)` (also built right in that call), then
`model.double()` or a trainer method that moves its model (`trainer.to(device)`) before a
later `trainer.fit()` steps it.

## Why is this bad?
On current PyTorch this is usually harmless, which is why the rule is only
informational: the move keeps the same Parameter objects, so the optimizer still updates
the model. But optimizer state that already exists does not follow the move: Adagrad
builds its state when it is constructed, Adam and SGD with momentum build theirs at the
first `step()`, and `optimizer.load_state_dict` places the loaded state where the
parameters were at that moment. The
docstring of `nn.Module.cuda` also asks for the move to happen before the optimizer is
constructed. Moving the model first avoids the question entirely.

## What PyTorch does
`model.to(...)`, `.cuda()`, `.double()`, `.half()` and `.bfloat16()` keep parameter
identity by default (unless `torch.__future__.set_overwrite_module_params_on_conversion(True)`
is set, in which case the optimizer keeps the old parameters and never updates the
model). Existing state stays as it was: after one Adam step in float32, `model.double()`
makes the next `step()` raise
``RuntimeError: expected dtype float for `end` but got dtype double``; an SGD momentum
buffer or Adagrad's state silently stays float32. The same `RuntimeError` follows when the
Adam state was loaded with `load_state_dict` before `model.double()`.

## Example
```python
import torch
from torch import nn

model = nn.Linear(4, 2)
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)

# warm up in float32
loss = nn.functional.mse_loss(model(torch.randn(8, 4)), torch.randn(8, 2))
loss.backward()
optimizer.step()

# continue in float64
model.double()
optimizer.zero_grad()
x, y = torch.randn(8, 4).double(), torch.randn(8, 2).double()
loss = nn.functional.mse_loss(model(x), y)
loss.backward()
optimizer.step()
```

## Use instead
```python
import torch
from torch import nn

model = nn.Linear(4, 2)
model.double()
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)

for _ in range(2):
    optimizer.zero_grad()
    x, y = torch.randn(8, 4).double(), torch.randn(8, 2).double()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
```

## Fix safety
The fix moves the statement that moves the model (with the comments directly above it)
to just above the optimizer creation. It is offered only when both are in the same block,
nothing between them uses the model, and the moved statement reads nothing defined
between them. It is unsafe because it reorders statements.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradguard.analysis import flow, torchnames
from gradguard.analysis.edits import first_line, move_statement
from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.optimizer_uses import OptimizerTimeline
from gradguard.analysis.optimizers import OptimizerCreation
from gradguard.findings import Finding, Fix, FixSafety, RelatedLocation, Severity
from gradguard.rules import moves_across_methods
from gradguard.rules.base import FixAvailability, Raises, Rule, RuleContext
from gradguard.semantic import control
from gradguard.semantic.built_optimizers import helper_creations
from gradguard.semantic.catalogue.tensors import STATE_MISMATCHING_MOVES
from gradguard.semantic.model import SemanticModel
from gradguard.semantic.objects import ModuleObject
from gradguard.semantic.workspace import argument_names, foreign_call

MOVES = STATE_MISMATCHING_MOVES
_OVERWRITE_FLAG = "set_overwrite_module_params_on_conversion"


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    facts = context.facts
    overwrites = _overwrites_parameters(facts)
    # One optimizer name created in both arms of an ``if`` must give one finding.
    seen: set[int] = set()
    semantic = SemanticModel.of(facts)

    def moves_of(creation: OptimizerCreation) -> Iterator[tuple[ast.Call, Finding]]:
        timeline = OptimizerTimeline.of(facts, creation)
        if timeline is None or not creation.models:
            return
        earlier = _moves_before(facts, creation)
        owners = _known_owners(semantic, creation)
        for info in facts.statements_of(creation.scope):
            if not timeline.follows_creation(info):
                continue
            for call, model in _moves_in(info.node, creation.models, semantic, owners):
                if not timeline.used_after(info):
                    continue
                if not semantic.still_bound(timeline.name, creation.statement.node, info.node):
                    continue  # the name holds a later optimizer here: that one is reported
                if (model, _move_key(call)) in earlier:
                    # Moved there before the optimizer existed: this move repeats it or
                    # brings the model back (``.cpu()`` to save a checkpoint, then
                    # ``.to(device)``), so parameters and state end up together.
                    continue
                fix = _move_above_creation(context, timeline, info.node, call, model)
                yield (
                    call,
                    rule.finding(
                        context,
                        call,
                        _message(context, call, model, timeline.name, overwrites),
                        severity=Severity.WARNING if overwrites else None,
                        related=[
                            RelatedLocation(
                                context.source.span_of(creation.statement.node),
                                f"`{timeline.name}` is created here from the parameters of "
                                f"`{_written(model, creation)}`",
                            )
                        ],
                        fixes=[fix] if fix else [],
                    ),
                )

    # jedi is asked whether a call builds an optimizer only when it would be reported; the
    # optimizers other modules' helpers build are known already.
    helpers = helper_creations(facts)
    for call, finding in context.optimizers.findings_of_each(moves_of, known=helpers):
        if id(call) not in seen:
            seen.add(id(call))
            yield finding
    # An optimizer a trainer's ``__init__`` built, the model moved in the code using it.
    for call, finding in context.optimizers.findings_of_each(
        lambda creation: moves_across_methods.object_findings(rule, context, creation)
    ):
        if id(call) not in seen:
            seen.add(id(call))
            yield finding


def _written(model: str, creation: OptimizerCreation) -> str:
    """The model as the optimizer's creation spells it (``m`` for a move of ``alias``)."""
    return model if model in creation.models else min(creation.models)


def _known_owners(semantic: SemanticModel, creation: OptimizerCreation) -> frozenset:
    """The module objects whose parameters the optimizer holds, as far as the file shows."""
    if creation.params is None:
        return frozenset()
    owners = semantic.parameter_owners(creation.params)
    return frozenset(o for o in owners if isinstance(o, ModuleObject))


def _moves_in(
    stmt: ast.stmt, models: frozenset[str], semantic: SemanticModel, owners: frozenset
) -> Iterator[tuple[ast.Call, str]]:
    """``(call, model)`` for each move or cast of one of ``models`` (or of a module that
    holds or is part of one, or of a name holding the same module object: ``alias =
    model``) in the statement's own code."""
    for node in flow.own_nodes(stmt):
        if not isinstance(node, ast.Call):
            continue
        if flow.method_name(node) not in MOVES:
            yield from _helper_moves(semantic.facts, node, models)
            continue
        assert isinstance(node.func, ast.Attribute)
        receiver = flow.dotted_name(node.func.value)
        if receiver is None or torchnames.is_layer_parameter_name(receiver.rsplit(".", 1)[-1]):
            continue  # ``.to()`` on a tensor returns a copy: not a module move
        for model in sorted(models):
            if _holds(receiver, model):
                yield node, model
                break
            # ``model.mean = model.mean.to(device)`` may be a tensor attribute; only a
            # discarded result (``model.fc.cuda()``) is surely an in-place module move.
            if receiver.startswith(model + ".") and _result_discarded(stmt, node):
                yield node, model
                break
        else:
            moved = semantic.value_of(node.func.value) if owners else frozenset()
            if moved & owners and all(isinstance(o, ModuleObject) for o in moved):
                yield node, receiver


def _helper_moves(
    facts: ModuleFacts, call: ast.Call, models: frozenset[str]
) -> Iterator[tuple[ast.Call, str]]:
    """``to_device(model, device)``: a function of another workspace module that moves
    or casts the parameter it is given the model for (its summary says so)."""
    foreign = foreign_call(facts, call)
    if foreign is None or not foreign.summary.moves:
        return
    arguments = argument_names(call, foreign.summary)
    for move in foreign.summary.moves:
        receiver = arguments.get(move.parameter)
        model = next((m for m in sorted(models) if receiver and _holds(receiver, m)), None)
        if model is not None:
            yield call, model
            return


def _holds(receiver: str, model: str) -> bool:
    """Moving ``receiver`` moves ``model`` (it is the model or holds it)."""
    return receiver == model or model.startswith(receiver + ".")


def _move_key(call: ast.Call) -> str:
    """The move as written (method or function, and arguments), to compare two moves."""
    arguments = [*call.args, *call.keywords]
    called = flow.method_name(call) or flow.dotted_name(call.func)
    return f"{called}({', '.join(ast.dump(a) for a in arguments)})"


def _moves_before(facts: ModuleFacts, creation: OptimizerCreation) -> set[tuple[str, str]]:
    """``(model, move)`` for the moves of the optimizer's models made in the creation's
    scope before it: ``model = Net().to(device)``, ``model.to(device)``."""
    found: set[tuple[str, str]] = set()
    for info in facts.statements_of(creation.scope):
        if info.order >= creation.statement.order:
            break
        node = info.node
        if isinstance(node, ast.Assign):
            bound = {flow.dotted_name(t) for t in flow.assigned_targets(node)}
            for model in creation.models & bound:
                value = node.value
                while isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute):
                    if flow.method_name(value) in MOVES:
                        found.add((model, _move_key(value)))
                    value = value.func.value
        found.update(
            (model, _move_key(call))
            for call, model in _moves_in(
                node, creation.models, SemanticModel.of(facts), frozenset()
            )
            if flow.dotted_name(call.func) == f"{model}.{flow.method_name(call)}"
            or flow.method_name(call) not in MOVES  # a helper the model is given to
        )
    return found


def _result_discarded(stmt: ast.stmt, call: ast.Call) -> bool:
    """``call`` is the statement's whole expression (or a link of a move chain that is)."""
    value = stmt.value if isinstance(stmt, ast.Expr) else None
    while isinstance(value, ast.Call) and flow.method_name(value) in MOVES:
        if value is call:
            return True
        assert isinstance(value.func, ast.Attribute)
        value = value.func.value
    return False


def _overwrites_parameters(facts: ModuleFacts) -> bool:
    """The file turns on ``set_overwrite_module_params_on_conversion(True)``."""
    return facts.mentions(_OVERWRITE_FLAG) and any(
        isinstance(node, ast.Call)
        and (flow.dotted_name(node.func) or "").endswith(_OVERWRITE_FLAG)
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
        and node.args[0].value is True
        for node in facts.nodes_of(ast.Call)
    )


def _message(
    context: RuleContext, call: ast.Call, model: str, optimizer: str, overwrites: bool
) -> str:
    shown = f"`{_short(context.source.node_text(call), flow.method_name(call) or 'to')}`"
    foreign = foreign_call(context.facts, call) if flow.method_name(call) not in MOVES else None
    if foreign is not None:  # a helper of another module moves it
        arguments = argument_names(call, foreign.summary)
        move = next(  # the move of what holds `model` (the helper may move a batch first)
            (
                m
                for m in foreign.summary.moves
                if (receiver := arguments.get(m.parameter)) and _holds(receiver, model)
            ),
            foreign.summary.moves[0],
        )
        text = context.source.node_text(call)
        if len(text) > 40 or "\n" in text:
            text = f"{foreign.called_as}(...)"
        shown = f"`{text}` (`.{move.method}()` in {foreign.file_name} line {move.line})"
    if overwrites:
        return (
            f"{shown} runs after `{optimizer}` was created from the parameters of `{model}`, "
            f"and with `{_OVERWRITE_FLAG}(True)` it replaces the parameters, so `{optimizer}` "
            "keeps the old ones and never updates the model"
        )
    return (
        f"{shown} runs after `{optimizer}` was created from the parameters of `{model}`: "
        "PyTorch keeps the same parameter objects, but optimizer state that already exists "
        "(Adagrad's, Adam's or momentum SGD's after a step, a loaded state dict) is not moved "
        "or cast with them"
    )


def _short(text: str, method: str) -> str:
    return text if len(text) <= 40 and "\n" not in text else f".{method}()"


# -- fix ------------------------------------------------------------------------------------


def _move_above_creation(
    context: RuleContext, timeline: OptimizerTimeline, stmt: ast.stmt, call: ast.Call, model: str
) -> Fix | None:
    creation = timeline.creation.statement
    block = creation.block
    moved = _statement_in_block(context.facts, stmt, block)
    if moved is None or not _only_moves(moved, model):
        return None
    index = next(i for i, s in enumerate(block) if s is moved)
    if index <= creation.index:
        return None
    passed = block[creation.index : index]  # the creation and what follows it
    if not control.can_move_past(moved, passed, model.split(".")[0]):
        return None  # something between uses the model, or binds what the move reads
    edits = move_statement(context.source, moved, before=creation.node)
    if edits is None:
        return None
    line = first_line(creation.node) + 1
    call_text = _short(context.source.node_text(call), flow.method_name(call) or "to")
    return Fix(
        f"Move `{call_text}` above the optimizer creation (line {line})",
        FixSafety.UNSAFE,
        edits,
    )


def _statement_in_block(
    facts: ModuleFacts, stmt: ast.stmt, block: list[ast.stmt]
) -> ast.stmt | None:
    """``stmt`` itself, or the ``if`` statements around it, up to one that is in
    ``block``; None if something else (a loop, a ``with``) is in the way."""
    candidate: ast.AST = stmt
    while not any(candidate is s for s in block):
        parent = facts.parents.get(candidate)
        if not isinstance(parent, ast.If):
            return None
        candidate = parent
    return candidate if isinstance(candidate, ast.stmt) else None


def _only_moves(stmt: ast.stmt, model: str) -> bool:
    """The statement does nothing but move the model (possibly under an ``if``)."""
    if isinstance(stmt, ast.If):
        return all(_only_moves(s, model) for s in [*stmt.body, *stmt.orelse])
    root = model.split(".")[0]
    if isinstance(stmt, ast.Expr) or (
        isinstance(stmt, ast.Assign)
        and all(isinstance(t, ast.Name) and t.id == root for t in stmt.targets)
    ):
        value = stmt.value
    else:
        return False
    while isinstance(value, ast.Call) and flow.method_name(value) in MOVES:
        assert isinstance(value.func, ast.Attribute)
        value = value.func.value
    return flow.dotted_name(value) is not None and value is not stmt.value


RULE = Rule(
    code="GG105",
    name="optimizer-before-move",
    summary="The model is moved or cast after the optimizer was created from it",
    severity=Severity.INFORMATION,
    fix_availability=FixAvailability.SOMETIMES,
    doc=__doc__ or "",
    check_function=check,
    example_outcome=Raises("RuntimeError", "expected dtype float for `end` but got dtype double"),
)
