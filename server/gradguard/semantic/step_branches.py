"""Two questions GG402 asks about a training loop: does every iteration build the model
or optimizer anew, and are the gradients cleared in only one branch of an ``if``."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from gradguard.analysis import flow
from gradguard.semantic.step_events import EventKind, StepEvent
from gradguard.semantic.step_queries import is_accumulation_test
from gradguard.semantic.steps import TrainingSteps


def rebuilt_each_iteration(analysis: TrainingSteps, loop: ast.stmt, step: StepEvent) -> bool:
    """The loop body builds a model the stepped optimizer trains anew (``model =
    ToyModel()``, not ``model = model.to(device)``): each iteration starts from fresh
    parameters without gradients (a k-fold loop, a test building everything per case).
    An optimizer rebuilt around a model that persists does not count: that model's
    gradients still accumulate (and GG103 reports the rebuilt optimizer)."""
    if not step.target:
        return False
    fresh: set[str] = set()
    optimizer_values: list[ast.expr] = []
    for stmt in getattr(loop, "body", []):
        for node in flow.walk_local(stmt):
            if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
                continue
            for target in flow.assigned_targets(node):
                name = flow.dotted_name(target)
                if name == step.target:
                    optimizer_values.append(node.value)
                if name and isinstance(node.value, ast.Call) and not _moves(node.value, name):
                    fresh.add(name)
    models = {m for c in analysis.optimizers.bound_to(step.target) for m in c.models}
    # ``optim = Wrapper(SGD(model.parameters()))``: the models whose parameters it takes.
    models |= {
        owner
        for value in optimizer_values
        for node in ast.walk(value)
        if isinstance(node, ast.Call)
        and flow.method_name(node) == "parameters"
        and (owner := flow.dotted_name(node.func.value))  # type: ignore[attr-defined]
    }
    return bool(models & fresh)


def _moves(call: ast.Call, name: str) -> bool:
    """``model.to(device)``, ``model.cuda()``: a method of the same object."""
    func = call.func
    return isinstance(func, ast.Attribute) and flow.dotted_name(func.value) == name


@dataclass(frozen=True)
class OneBranchClearing:
    branch: ast.If
    # The answer to ``branch.test`` on which the gradients are cleared.
    clears_when: bool
    # The backward and the step on the path that does not clear.
    backward: StepEvent
    step: StepEvent
    # The block the backward is a statement of, when it is the ``if``'s other block or
    # the loop body itself (where a clearing can be inserted).
    backward_block: list[ast.stmt] | None


def clearing_in_one_branch(analysis: TrainingSteps, loop: ast.stmt) -> OneBranchClearing | None:
    """An ``if`` of the loop body whose one block clears the gradients and whose other
    block (maybe empty) does not, while nothing else in the loop clears them, and a
    backward and an optimizer step run on the path that does not clear."""
    body: list[ast.stmt] = getattr(loop, "body", [])
    for statement in body:
        if not isinstance(statement, ast.If) or is_accumulation_test(statement.test):
            continue
        clears_body = analysis.clears_anywhere(statement.body)
        clears_else = analysis.clears_anywhere(statement.orelse)
        if clears_body == clears_else:
            continue
        if analysis.clears_anywhere([s for s in body if s is not statement]):
            return None
        found = _unclearing_path(analysis, loop, statement, clears_body)
        if found is not None:
            return found
    return None


def _unclearing_path(
    analysis: TrainingSteps, loop: ast.stmt, branch: ast.If, clears_when: bool
) -> OneBranchClearing | None:
    clearing_block = branch.body if clears_when else branch.orelse
    other_block = branch.orelse if clears_when else branch.body
    events = analysis.region_events(loop)
    on_path = [e for e in events if not _inside(analysis, e.statement, clearing_block)]
    if any(e.kind is EventKind.OPAQUE for e in on_path):
        return None
    backward = next((e for e in on_path if e.kind is EventKind.BACKWARD), None)
    step = next(
        (
            e
            for e in on_path
            if e.kind is EventKind.STEP and all(g.owner is branch for g in e.guards)
        ),
        None,
    )
    if backward is None or step is None:
        return None
    block = analysis.block_of(backward.statement)
    usable = block if block is other_block or block is getattr(loop, "body", None) else None
    return OneBranchClearing(branch, clears_when, backward, step, usable)


def _inside(analysis: TrainingSteps, stmt: ast.stmt, block: list[ast.stmt]) -> bool:
    node: ast.AST | None = stmt
    while node is not None:
        if any(s is node for s in block):
            return True
        node = analysis.facts.parents.get(node)
    return False
