"""## What it does
Checks for `model.eval()` (or `model.train(False)`) called inside a training loop,
directly or in a same-file helper (`validate(model, loader)`, `self.evaluate()`), when
`model.train()` is not called again before the loop's next training batch.

The training batches are the loop's `backward()` calls, also inside helpers such as
`train_one_epoch(model, ...)`. Not reported: a `train()` on every path between the
`eval()` and the next backward (at the top of the epoch, at the start of
`train_one_epoch()`, right after the validation), validation on a different model
object (`ema_model.eval()`), an `eval()` followed by `break` or `return`, and models
whose mode is set from a variable (`model.train(is_training)`). A `train()` at the top
of the epoch does not cover a validation that runs inside the batch loop.

The finding is a warning when the program shows that the model has Dropout or
BatchNorm layers (its class in this file, an `nn.Sequential` of them, a torchvision
model), and information otherwise: the mode still flips, but it may change nothing. The
model is the one the name holds when the loop starts (a trainer's `self.model` as its
`__init__` builds it, or what the file's own calls pass to `fit(model, ...)`).

## Why is this bad?
Evaluation mode is meant for validation only. Once the loop goes back to training
without `model.train()`, every later epoch trains with Dropout switched off and
BatchNorm using (and no longer updating) its running statistics, so the model
regularises differently and its normalisation statistics freeze: results degrade
silently.

## What PyTorch does
`eval()` sets `training = False` on the module and all its submodules, and nothing sets
it back. Measured on torch 2.13.0 with `Linear, BatchNorm1d, Dropout(0.5), Linear`,
`train()` only before the loop and `eval()` for validation each epoch: from the second
epoch on, 0% of Dropout's outputs are zeroed (against about 50%) and BatchNorm's
`num_batches_tracked` stays at 2 with a running-mean change of 0.0. With a validation
inside the batch loop every 6 iterations and `train()` at the top of each epoch, 10 of
12 training iterations ran in eval mode.

## Example
```python
import torch
from torch import nn

model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(16, 4), torch.randn(16, 1)
modes = []

def validate(model):
    model.eval()
    with torch.no_grad():
        return nn.functional.mse_loss(model(x), y).item()

model.train()
for epoch in range(3):
    modes.append(model.training)
    optimizer.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()
    validate(model)
```

## Use instead
```python
import torch
from torch import nn

model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(16, 4), torch.randn(16, 1)
modes = []

def validate(model):
    model.eval()
    with torch.no_grad():
        return nn.functional.mse_loss(model(x), y).item()

for epoch in range(3):
    model.train()
    modes.append(model.training)
    optimizer.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()
    validate(model)
```

## Fix safety
The fix inserts `model.train()` as the first statement of the loop that holds both the
training batches and the validation. It is safe: the model is in training mode at the
start of every iteration, which is what the training code assumes; an extra `train()`
where one is already called changes nothing. It is offered when the loop's first
statement starts its own line and the loop does not rebind the model's name.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from gradguard.analysis import edits, flow, names
from gradguard.findings import Finding, Fix, FixSafety, RelatedLocation, Severity
from gradguard.rules.base import FixAvailability, Rule, RuleContext, Silent
from gradguard.semantic.model import SemanticModel
from gradguard.semantic.objects import ModuleObject
from gradguard.semantic.step_events import EventKind, StepEvent
from gradguard.semantic.step_queries import binds_name, describe
from gradguard.semantic.steps import TrainingSteps, training_steps

_MODE_DEPENDENT = re.compile(
    r"^torch\.nn\.(Dropout\w*|AlphaDropout|FeatureAlphaDropout|BatchNorm\w*|SyncBatchNorm)$"
    r"|^torch\.nn\.functional\.dropout\w*$"
)
_CONTAINERS = frozenset({"torch.nn.Sequential", "torch.nn.ModuleList", "torch.nn.ModuleDict"})


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    analysis = training_steps(context.facts, context.optimizers)
    if not analysis.direct_events("eval") and not analysis.direct_events("train"):
        return
    reported: set[int] = set()
    for loop in context.facts.nodes_of_types(ast.For, ast.AsyncFor, ast.While):
        events = analysis.region_events(loop)
        for event in events:
            if event.kind is not EventKind.EVAL or event.target is None or id(event) in reported:
                continue
            if analysis.iteration_loop(event.statement) is not loop:
                continue
            backward = _trained_in_eval_mode(events, event)
            if backward is not None and not _ends_the_loop(analysis, event):
                if (
                    _mode_from_variable(context, event.target)
                    or _chained_train(loop, event.target)
                    or not _uses_model(context, analysis, loop, event)
                ):
                    continue
                reported.add(id(event))
                yield _finding(rule, context, analysis, loop, event, backward)  # type: ignore[arg-type]


def _trained_in_eval_mode(events: list[StepEvent], evaluation: StepEvent) -> StepEvent | None:
    """The backward that runs next after ``evaluation`` (wrapping round the loop once)
    with no ``train()`` of that model in between; None when one is met first."""
    start = next(i for i, e in enumerate(events) if e is evaluation)
    model = evaluation.target or ""
    for event in events[start + 1 :] + events[: start + 1]:
        if event is evaluation:
            return None
        if event.kind is EventKind.TRAIN and _covers(event.target, model):
            return None
        if event.kind is EventKind.OPAQUE:
            return None
        if event.kind is EventKind.BACKWARD:
            return event
    return None


def _chained_train(loop: ast.stmt, model: str) -> bool:
    """``model.to(device).train()`` in the loop: a train() the event layer cannot name."""
    for node in flow.walk_local(loop):
        if isinstance(node, ast.Call) and flow.method_name(node) == "train":
            receiver = node.func.value  # type: ignore[attr-defined]
            while isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Attribute):
                receiver = receiver.func.value
            if flow.dotted_name(receiver) == model:
                return True
    return False


def _uses_model(
    context: RuleContext, analysis: TrainingSteps, loop: ast.stmt, evaluation: StepEvent
) -> bool:
    """The loop uses the evaluated model outside the validation (a forward, a helper it
    is passed to): validating an EMA copy or a reloaded model is not this bug."""
    model = evaluation.target or ""
    for info in context.facts.statements_of(context.facts.enclosing_scope(loop)):
        statement = info.node
        if statement is evaluation.statement or loop not in info.loops:
            continue
        if _only_sets_mode(statement, model) or any(
            e.kind is EventKind.EVAL and e.target == model for e in analysis.own_events(statement)
        ):
            continue
        if any(names.reads_dotted(part, model) for part in flow.header_nodes(statement)):
            return True
    return False


def _only_sets_mode(statement: ast.stmt, model: str) -> bool:
    """``model.eval()`` / ``model.train()`` as a statement of its own."""
    value = statement.value if isinstance(statement, ast.Expr) else None
    return (
        isinstance(value, ast.Call)
        and flow.method_name(value) in ("train", "eval")
        and flow.dotted_name(value.func.value) == model  # type: ignore[attr-defined]
    )


def _covers(target: str | None, model: str) -> bool:
    """``model.train()`` covers ``model.module``; an unknown target may be anything."""
    return target is None or target == model or model.startswith(target + ".")


def _ends_the_loop(analysis: TrainingSteps, evaluation: StepEvent) -> bool:
    """``eval()`` followed by ``break`` or ``return`` in its block."""
    block = analysis.block_of(evaluation.statement) or []
    index = next((i for i, s in enumerate(block) if s is evaluation.statement), len(block))
    return any(isinstance(s, (ast.Break, ast.Return)) for s in block[index + 1 :])


def _mode_from_variable(context: RuleContext, model: str) -> bool:
    """``model.train(is_training)`` anywhere: the mode is decided at run time."""
    last = model.rsplit(".", 1)[-1]
    for node in context.facts.nodes_of(ast.Call):
        assert isinstance(node, ast.Call)
        if flow.method_name(node) == "train" and (node.args or node.keywords):
            receiver = flow.dotted_name(node.func.value) or ""  # type: ignore[attr-defined]
            argument = (node.args or [k.value for k in node.keywords])[0]
            if receiver.rsplit(".", 1)[-1] == last and not isinstance(argument, ast.Constant):
                return True
    return False


def _finding(
    rule: Rule,
    context: RuleContext,
    analysis: TrainingSteps,
    loop: ast.stmt,
    evaluation: StepEvent,
    backward: StepEvent,
) -> Finding:
    source = context.source
    model = evaluation.target or "model"
    eval_text = describe(source.node_text(evaluation.call), f"`{model}.eval()`")
    where = ""
    node = evaluation.node
    function = analysis.helper_of(node) if isinstance(node, ast.Call) else None
    if evaluation.via_helper and function is not None:
        helper = describe(source.node_text(evaluation.node), f"`{function.name}(...)`")
        where = f" (in {helper}, line {getattr(evaluation.call, 'lineno', 0)})"
    backward_text = describe(source.node_text(backward.node), "the next backward")
    visible = _mode_dependent_layers(context, model, loop)
    effects = {
        "Dropout": "Dropout drops nothing",
        "BatchNorm": "BatchNorm normalises with frozen running statistics it no longer updates",
        "Dropout or BatchNorm": "its Dropout layers drop nothing and its BatchNorm layers "
        "stop updating their running statistics",
    }
    effect = (
        " and ".join(effects[kind] for kind in sorted(visible, reverse=True))
        if visible
        else "layers that behave differently in training (Dropout, BatchNorm) stay in "
        "evaluation mode"
    )
    message = (
        f"{eval_text}{where} switches `{model}` to evaluation mode inside the training loop, "
        f"and `{model}.train()` is not called again before the next training batch "
        f"({backward_text}): from then on "
        f"{effect}, with no error"
    )
    related = [
        RelatedLocation(source.span_of(evaluation.call), "evaluation mode set here"),
        RelatedLocation(source.span_of(backward.node), "trained in evaluation mode here"),
    ]
    severity = Severity.WARNING if visible else Severity.INFORMATION
    fixes = _fix(context, loop, model)
    return rule.finding(
        context, evaluation.node, message, severity=severity, related=related, fixes=fixes
    )


def _mode_dependent_layers(context: RuleContext, model: str, loop: ast.stmt) -> set[str]:
    """``{"Dropout", "BatchNorm"}``, or the part of it the program shows the model that
    ``model`` (a name or ``self.model``) holds when the loop starts has."""
    semantic = SemanticModel.of(context.facts)
    root, *fields = model.split(".")
    value = semantic.value_at(root, loop)
    for field in fields:
        value = semantic.evaluator.heap.load(value, field)
    return {
        kind
        for obj in value
        if isinstance(obj, ModuleObject)
        for kind in _built_layers(context, obj)
    }


def _built_layers(context: RuleContext, obj: ModuleObject) -> set[str]:
    facts = context.facts
    if obj.class_name.startswith("torchvision.models."):
        return {"Dropout or BatchNorm"}  # every torchvision family has one of them
    if obj.class_name in facts.classes and not obj.torch_layer:
        built: ast.AST = facts.classes[obj.class_name].node
    elif obj.class_name in _CONTAINERS and obj.site is not None:
        built = obj.site
    else:
        kind = _layer_kind(obj.class_name) if obj.torch_layer else None
        return {kind} if kind else set()
    calls = [n for n in ast.walk(built) if isinstance(n, ast.Call)]
    return {kind for call in calls if (kind := _layer_kind(facts.qualify(call.func) or ""))}


def _layer_kind(qualified: str) -> str | None:
    if not _MODE_DEPENDENT.match(qualified):
        return None
    return "BatchNorm" if "Norm" in qualified else "Dropout"


def _fix(context: RuleContext, loop: ast.stmt, model: str) -> list[Fix]:
    source = context.source
    first = loop.body[0] if isinstance(loop, flow.LOOP_TYPES) else None  # type: ignore[attr-defined]
    if first is None or not edits.starts_its_line(source, first):
        return []
    if binds_name(loop.body, model.split(".", 1)[0]):  # type: ignore[attr-defined]
        return []
    indentation = source.indentation_of(edits.first_line(first))
    edit = edits.insert_before_edit(source, first, f"{indentation}{model}.train(){source.newline}")
    title = f"Call `{model}.train()` at the start of each iteration"
    return [Fix(title, FixSafety.SAFE, (edit,))]


RULE = Rule(
    code="GG508",
    name="eval-mode-not-restored",
    summary="`model.eval()` inside the training loop is never undone by `model.train()`",
    severity=Severity.WARNING,
    fix_availability=FixAvailability.SOMETIMES,
    doc=__doc__ or "",
    check_function=check,
    example_outcome=Silent(check="assert modes == [True, False, False]"),
    use_instead_check="assert modes == [True, True, True]",
    required_words=("torch",),
    required_text=r"\.eval\(|\.train\(",
)
