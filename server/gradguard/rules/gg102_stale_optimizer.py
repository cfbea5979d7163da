"""## What it does
Checks for a model, one of its submodules, or one of its parameters that is replaced
after an optimizer was created from the model's parameters, while that optimizer is
still used afterwards: `model = Net()` or `model = copy.deepcopy(model)` again,
`model.fc = nn.Linear(...)`, `model.fc.weight = nn.Parameter(...)`,
`nn.utils.parametrizations.weight_norm(model.fc)` or the older
`torch.nn.utils.weight_norm(model.fc)`, also when the replacement happens inside a
function called with the model, of the same file or of another module of the workspace
(`replace_head(model)` imported from `utils.py`, when jedi is on). The model is followed through
names: a layer built in a local first (`head = nn.Linear(4, 3); model.fc = head`), an
alias of the model (`net = model`, or `inner = m.backbone` in a helper), a name rebound
later (`params = a.parameters()` then `params = b.parameters()`: the optimizer keeps
`a`'s), and a function that rebinds the module-level model with `global model`.

A trainer that holds the model and optimizer is followed too: the optimizer handed to
`Trainer(model, optimizer)` (also built right in that call), or built by its `__init__` or
`setup()` (`self.optimizer = SGD(self.model.parameters())`), then a replacement in the
code using the trainer (`trainer.model.fc = ...`, `model.fc = ...`,
`trainer.replace_head(3)`, a method that replaces and then fits, a callback given the
trainer) while a later `trainer.fit()` steps that optimizer; a trainer class or helper
class of another workspace module counts when jedi is on (`from trainer import Finetuner`,
`Surgeon().replace_head(model)`).

Across the methods of a class it also reports a `clone()` that builds a new instance from
`copy.deepcopy(self._model)` and the same `self._optimizer` when the class steps that
optimizer, and a Lightning hook that replaces a layer after `configure_optimizers()` ran:
`Trainer.fit` calls `configure_optimizers()` while setting up the strategy, before the
callbacks' `on_fit_start(trainer, pl_module)` and the module's `on_fit_start()`,
`on_train_start()` and `on_train_epoch_start()` (`setup()` and `configure_model()` run
before it and are fine).

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
Parameter), nor a container rebuilt from the model's own children
(`nn.Sequential(*list(model.classifier.children())[:-1])`), nor a layer moved from another
part of the same model. Nor is a replacement followed by `add_param_group` for the new
part (directly, or in a same-file function given the optimizer), or an optimizer created
again after the replacement (also by a trainer method such as `reset_optimizer()`).

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

from gradguard.analysis import flow
from gradguard.analysis.edits import insert_statements_after, last_line, move_statement
from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.names import names_bound, names_read, reads_dotted
from gradguard.analysis.optimizer_uses import OptimizerTimeline, related_names
from gradguard.analysis.optimizers import OptimizerCreation, models_in
from gradguard.findings import Finding, Fix, FixSafety, RelatedLocation, Severity
from gradguard.rules import stale_across_methods
from gradguard.rules.base import FixAvailability, Rule, RuleContext, Silent
from gradguard.semantic.built_optimizers import helper_creations
from gradguard.semantic.model import SemanticModel
from gradguard.semantic.objects import UNKNOWN
from gradguard.semantic.replacements import Replacement, replacements_in

# -- the check ------------------------------------------------------------------------------


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    facts = context.facts
    per_scope: dict[ast.AST, list[tuple[flow.StatementInfo, Replacement]]] = {}
    # One optimizer name created in both arms of an ``if`` must give one finding.
    seen: set[tuple[object, str]] = set()

    def findings_of(creation: OptimizerCreation) -> Iterator[Finding]:
        timeline = OptimizerTimeline.of(facts, creation)
        if timeline is None or not creation.models:
            return
        if creation.scope not in per_scope:  # a cache: the same for every creation
            per_scope[creation.scope] = [
                (info, found)
                for info in facts.statements_of(creation.scope)
                for found in replacements_in(facts, info.node)
            ]
        yield from _check_creation(rule, context, timeline, per_scope[creation.scope])

    # jedi is asked whether a call builds an optimizer only when it would be reported; the
    # optimizers other modules' helpers build are known already.
    helpers = helper_creations(facts)
    for finding in context.optimizers.findings_of_each(findings_of, known=helpers):
        if (finding.span, finding.message) not in seen:
            seen.add((finding.span, finding.message))
            yield finding
    yield from stale_across_methods.findings(rule, context)


def _check_creation(
    rule: Rule,
    context: RuleContext,
    timeline: OptimizerTimeline,
    candidates: list[tuple[flow.StatementInfo, Replacement]],
) -> Iterator[Finding]:
    creation = timeline.creation
    held = _held_objects(context.facts, creation)
    related = [
        (info, found, model)
        for info, found in candidates
        if timeline.follows_creation(info) and not found.new_objects & held
        for model in [_model_of(context.facts, found, creation, held)]
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


def _held_objects(facts: ModuleFacts, creation: OptimizerCreation) -> frozenset:
    """The modules whose parameters the optimizer holds and the layers inside them, as
    far as the semantic model knows them."""
    if creation.params is None:
        return frozenset()
    semantic = SemanticModel.of(facts)
    held: set = set()
    for owner in semantic.parameter_owners(creation.params) - {UNKNOWN}:
        held |= semantic.gradients.reachable(owner)
    return frozenset(held)


def _model_of(
    facts: ModuleFacts, found: Replacement, creation: OptimizerCreation, held: frozenset
) -> str | None:
    """The optimizer's model that the replacement touches, if any: by name, or because
    the replaced field belongs to an object the optimizer's model holds (an alias, a
    local in a helper)."""
    if not (found.untranslated and found.owner is not None):
        for model in sorted(creation.models):
            if related_names(found.part.removesuffix("[]"), model) or related_names(
                found.part, model
            ):
                return model
    if found.owner is None or not held:
        return None
    owner = SemanticModel.of(facts).evaluator.value_of(found.owner, found.frame)
    return min(creation.models) if owner & held else None


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
        where = f"{found.via_file} line" if found.via_file else "line"
        return (
            f"`{found.via}()` replaces {what} ({where} {found.via_line}) after `{optimizer}` was "
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
