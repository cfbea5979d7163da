"""GG105's findings for an optimizer an object's method built (``semantic/held_optimizers.py``):
``trainer = Trainer(model)`` whose ``__init__`` builds ``self.optimizer`` from
``self.model``, then ``model.double()`` or ``trainer.to(device)`` and a later ``trainer.fit()``."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradguard.analysis import flow
from gradguard.analysis.optimizers import OptimizerCreation
from gradguard.findings import Finding, RelatedLocation
from gradguard.rules.base import Rule, RuleContext
from gradguard.semantic import held_optimizers, object_optimizers
from gradguard.semantic.catalogue.tensors import STATE_MISMATCHING_MOVES
from gradguard.semantic.object_optimizers import BuiltByObject


def object_findings(
    rule: Rule, context: RuleContext, creation: OptimizerCreation
) -> Iterator[tuple[ast.Call, Finding]]:
    facts = context.facts
    for built in object_optimizers.built_by_objects(facts, [creation]):
        touches = held_optimizers.Touches(facts, creation.call)
        earlier = _moved_before(context, built)
        for info in object_optimizers.later_statements(facts, built):
            for call, move in object_optimizers.moves_in(
                facts, info.node, built.owners, STATE_MISMATCHING_MOVES
            ):
                if _key(move) in earlier:
                    continue  # moved so before the optimizer existed: this repeats it
                use = object_optimizers.used_after(facts, built, info, touches)
                if use is not None:
                    yield call, _finding(rule, context, built, call, move, use)


def _moved_before(context: RuleContext, built: BuiltByObject) -> set[str]:
    """The moves made on the optimizer's models before the object built it."""
    facts = context.facts
    found: set[str] = set()
    for info in facts.statements_of(built.scope):
        if info.order >= built.statement.order:
            break
        for _, move in object_optimizers.moves_in(
            facts, info.node, built.owners, STATE_MISMATCHING_MOVES
        ):
            found.add(_key(move))
    return found


def _key(call: ast.Call) -> str:
    arguments = [*call.args, *call.keywords]
    return f"{flow.method_name(call)}({', '.join(ast.dump(a) for a in arguments)})"


def _finding(
    rule: Rule,
    context: RuleContext,
    built: BuiltByObject,
    call: ast.Call,
    move: ast.Call,
    use: ast.AST,
) -> Finding:
    span = context.source.span_of
    text = context.source.node_text(call)
    if len(text) > 40 or "\n" in text:
        text = f".{flow.method_name(call)}()"
    shown = f"`{text}`"
    if move is not call:
        shown += f" (`.{flow.method_name(move)}()` on line {move.lineno})"
    optimizer = f"self.{built.field}"
    return rule.finding(
        context,
        call,
        f"{shown} runs {built.after()}: PyTorch keeps the same parameter objects, but "
        "optimizer state that already exists (Adagrad's, Adam's or momentum SGD's after a "
        "step, a loaded state dict) is not moved or cast with them",
        related=[
            RelatedLocation(span(built.creation.statement.node), built.created_here()),
            RelatedLocation(span(use), f"`{optimizer}` is used here, after the move"),
        ],
    )
