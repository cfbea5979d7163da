"""Optimizers kept in an object's fields, followed through the code that uses the object.

A trainer holds its model and optimizer: ``trainer = Trainer(model, optimizer)`` (its
``__init__`` stores ``self.model = model; self.optimizer = optimizer``) or
``Trainer(model)`` whose ``__init__`` builds ``self.optimizer = SGD(self.model.parameters())``.
The field heap already says what ``trainer.model`` and ``self.optimizer`` hold for the
instance made at that call (``__init__``'s parameters bound to the call's arguments). This
module asks the questions GG102 and GG105 need about such an optimizer in the scope that
makes and uses the object (``main()``), in statement order:

which statements *use* it (``trainer.fit()`` when ``fit`` reads ``self.optimizer``,
through the methods it calls on ``self``; ``trainer.optimizer.step()``; ``return trainer``)
and which build it again first (``self.optimizer = SGD(...)`` in a ``reset_optimizer()``).
An optimizer the object's own method builds is ``object_optimizers``' subject.

Only same-file classes are followed, to ``METHOD_DEPTH`` nested method calls; anything the
model cannot show is not a use.
"""

from __future__ import annotations

import ast
from typing import Literal

from gradguard.analysis import flow, torchnames
from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.memo import memoised
from gradguard.analysis.optimizers import OptimizerCreation
from gradguard.semantic.limits import METHOD_DEPTH
from gradguard.semantic.model import SemanticModel
from gradguard.semantic.objects import (
    InstanceObject,
    ModuleObject,
    OptimizerObject,
    Value,
)
from gradguard.semantic.values import Frame

Function = ast.FunctionDef | ast.AsyncFunctionDef
Touch = Literal["use", "rebuild"] | None
_OPTIMIZER_FIELDS = "held_optimizers: fields that may hold an optimizer"


# -- uses of an optimizer held by an object ------------------------------------------------


class Touches:
    """Whether a statement uses the optimizer made at ``site`` (or builds the field that
    holds it again first), seen through the objects that hold it."""

    def __init__(self, facts: ModuleFacts, site: ast.Call) -> None:
        self.facts = facts
        self.site = site
        self.evaluator = SemanticModel.of(facts).evaluator
        self.fields = set(self.evaluator.heap.stores)
        # One answer per field for the whole file, not per optimizer (a 10k-line script
        # has a hundred): memoised with its reads, which the editor replays on reuse.
        self._optimizer_fields: dict[str, bool] = facts.shared(_OPTIMIZER_FIELDS, dict)

    def _may_hold_optimizer(self, attr: str) -> bool:
        """Some store of a field named ``attr`` may put an optimizer there: one whose value
        is not a ``torch.nn`` layer built in place (``model.fc = nn.Linear(...)``). The
        field's value reads every store's receiver, in every function of the file."""
        return memoised(
            self.facts,
            self._optimizer_fields,
            attr,
            lambda: any(
                not _builds_a_layer(self.facts, getattr(statement, "value", None))
                for _, statement in self.evaluator.heap.stores.get(attr, [])
            ),
        )

    def holds(self, value: Value) -> bool:
        return any(isinstance(o, OptimizerObject) and o.site is self.site for o in value)

    def of_statement(self, stmt: ast.stmt, frame: Frame = (), depth: int = 0) -> Touch:
        """The first touch of the statement's own code."""
        value_of = self.evaluator.value_of
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            if (
                isinstance(target, ast.Attribute)
                and self._may_hold_optimizer(target.attr)
                and self.holds(value_of(target, frame))
                and not self._reads(stmt.value, frame)
            ):
                return "rebuild"  # ``self.optimizer = SGD(...)`` over the field holding it
        if self._reads(stmt, frame, own=True) or self._returned(stmt, frame):
            return "use"
        if depth >= METHOD_DEPTH:
            return None
        for node in flow.own_nodes(stmt):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                touch = self.of_method_call(node, frame, depth)
                if touch is not None:
                    return touch
        return None

    def of_method_call(self, call: ast.Call, frame: Frame, depth: int, after: int = 0) -> Touch:
        """``trainer.fit(...)``: the first touch of the method's statements (those after
        line ``after``), ``self`` bound to the receiver's objects."""
        assert isinstance(call.func, ast.Attribute)
        if call.func.attr not in method_names(self.facts):
            return None
        heap = self.evaluator.heap
        for obj in self.evaluator.value_of(call.func.value, frame):
            method = heap.method(obj, call.func.attr)
            if method is None:
                continue
            inner = self.evaluator.call_frame(method, call, frame, frozenset({obj}))
            touch = self.of_body(method, inner, depth + 1, after)
            if touch is not None:
                return touch
        return None

    def of_body(self, function: Function, frame: Frame, depth: int, after: int = 0) -> Touch:
        for info in self.facts.statements_of(function):
            if info.node.lineno > after:
                touch = self.of_statement(info.node, frame, depth)
                if touch is not None:
                    return touch
        return None

    def _returned(self, stmt: ast.stmt, frame: Frame) -> bool:
        """``return trainer``: the object holding the optimizer goes to the caller, which
        trains with it (a builder function)."""
        if not isinstance(stmt, ast.Return) or not isinstance(stmt.value, ast.Name):
            return False
        heap = self.evaluator.heap
        return any(
            isinstance(obj, (InstanceObject, ModuleObject))
            and not (isinstance(obj, ModuleObject) and obj.torch_layer)
            and self.holds(heap.field(obj, attr))
            for obj in self.evaluator.value_of(stmt.value, frame)
            for attr in self.fields
            if self._may_hold_optimizer(attr)
        )

    def _reads(self, node: ast.AST, frame: Frame, own: bool = False) -> bool:
        """An attribute read in ``node`` holds the optimizer (``self.optimizer.step()``)."""
        nodes = flow.own_nodes(node) if own else ast.walk(node)  # type: ignore[arg-type]
        value_of = self.evaluator.value_of
        return any(
            isinstance(n, ast.Attribute)
            and isinstance(n.ctx, ast.Load)
            and n.attr in self.fields
            and self._may_hold_optimizer(n.attr)
            and self.holds(value_of(n, frame))
            for n in nodes
        )


def method_names(facts: ModuleFacts) -> frozenset[str]:
    return facts.shared(
        "same-file method names",
        lambda: frozenset(name for info in facts.classes.values() for name in info.methods),
    )


def object_uses(
    facts: ModuleFacts, creation: OptimizerCreation, statements: list[flow.StatementInfo]
) -> list[flow.StatementInfo]:
    """Statements after the creation that use its optimizer through an object it was
    handed to (``Trainer(model, optimizer)`` then ``trainer.fit()``), for a creation
    bound to a plain name that some call of the scope passes on."""
    name = creation.target
    if name is None or "." in name or not _passed_on(statements, creation, name):
        return []
    touches = Touches(facts, creation.call)
    found = []
    for info in statements:
        if info.order <= creation.statement.order:
            continue
        touch = touches.of_statement(info.node)
        if touch == "rebuild":  # the object holds another optimizer from here on
            break
        if touch == "use":
            found.append(info)
    return found


def _passed_on(
    statements: list[flow.StatementInfo], creation: OptimizerCreation, name: str
) -> bool:
    for info in statements:
        if info.order <= creation.statement.order:
            continue
        for node in flow.own_nodes(info.node):
            if isinstance(node, ast.Call) and any(
                isinstance(a, ast.Name) and a.id == name
                for a in [*node.args, *(k.value for k in node.keywords)]
            ):
                return True
    return False


def object_rebuilds(
    facts: ModuleFacts, name: str, statements: list[flow.StatementInfo]
) -> list[flow.StatementInfo]:
    """Statements calling a method on ``trainer`` that assigns ``self.optimizer`` before
    reading it, for the optimizer name ``trainer.optimizer`` (a same-file class's
    method, or another workspace module's class's summary)."""
    root, _, field = name.partition(".")
    if not field or "." in field:
        return []
    found = []
    for info in statements:
        for node in flow.own_nodes(info.node):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == root
                and _method_touch(facts, node, field) == "rebuild"
            ):
                found.append(info)
                break
    return found


def _method_touch(facts: ModuleFacts, call: ast.Call, field: str) -> str | None:
    from gradguard.semantic.workspace import foreign_call
    from gradguard.semantic.workspace_classes import first_touch

    assert isinstance(call.func, ast.Attribute)
    if call.func.attr in method_names(facts):
        heap = SemanticModel.of(facts).evaluator.heap
        touches = set()
        for obj in SemanticModel.of(facts).value_of(call.func.value):
            method = heap.method(obj, call.func.attr)
            owner = facts.parents.get(method) if method is not None else None
            if method is None or not isinstance(owner, ast.ClassDef):
                return None
            methods = {m.name: m for m in owner.body if isinstance(m, Function)}
            touches.add(first_touch(facts, method, field, methods, 0))
        return touches.pop() if len(touches) == 1 else None
    foreign = foreign_call(facts, call)
    return foreign.summary.touch(field) if foreign is not None else None


def _builds_a_layer(facts: ModuleFacts, value: ast.expr | None) -> bool:
    """``value`` is a call of a ``torch.nn`` layer class (never an optimizer)."""
    return isinstance(value, ast.Call) and torchnames.is_module_class_qualname(
        facts.qualify(value.func) or ""
    )
