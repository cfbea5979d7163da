"""Optimizers kept in an object's fields, followed through the code that uses the object.

A trainer holds its model and optimizer: ``trainer = Trainer(model, optimizer)`` (its
``__init__`` stores ``self.model = model; self.optimizer = optimizer``) or
``Trainer(model)`` whose ``__init__`` builds ``self.optimizer = SGD(self.model.parameters())``.
The field heap already says what ``trainer.model`` and ``self.optimizer`` hold for the
instance made at that call (``__init__``'s parameters bound to the call's arguments). This
module asks the questions GG102 and GG105 need about such an optimizer in the scope that
makes and uses the object (``main()``), in statement order:

- which statements *use* it (``trainer.fit()`` when ``fit`` reads ``self.optimizer``,
  through the methods it calls on ``self``; ``trainer.optimizer.step()``) and which build it
  again first (``self.optimizer = SGD(...)`` in a ``reset_optimizer()``);
- for an optimizer an object's method builds (``__init__``, ``setup()``), which statement
  of the calling scope builds it, which objects' parameters it holds, and what the
  statements after it replace or move.

Only same-file classes are followed, to ``_DEPTH`` nested method calls; anything the
model cannot show is not a use.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from gradguard.analysis import flow
from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.optimizers import OptimizerCreation
from gradguard.semantic import control
from gradguard.semantic.model import SemanticModel
from gradguard.semantic.objects import (
    UNKNOWN,
    AbstractObject,
    InstanceObject,
    ModuleObject,
    OptimizerObject,
    ParameterIterable,
    Value,
)
from gradguard.semantic.values import Evaluator, Frame

Function = ast.FunctionDef | ast.AsyncFunctionDef
Touch = Literal["use", "rebuild"] | None
# How many method calls deep a use is followed (``fit`` -> ``train_epoch`` -> ``step``).
_DEPTH = 3


# -- uses of an optimizer held by an object ------------------------------------------------


class Touches:
    """Whether a statement uses the optimizer made at ``site`` (or builds the field that
    holds it again first), seen through the objects that hold it."""

    def __init__(self, facts: ModuleFacts, site: ast.Call) -> None:
        self.facts = facts
        self.site = site
        self.evaluator = SemanticModel.of(facts).evaluator
        self.fields = set(self.evaluator.heap.stores)

    def holds(self, value: Value) -> bool:
        return any(isinstance(o, OptimizerObject) and o.site is self.site for o in value)

    def of_statement(self, stmt: ast.stmt, frame: Frame = (), depth: int = 0) -> Touch:
        """The first touch of the statement's own code."""
        value_of = self.evaluator.value_of
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            if (
                isinstance(target, ast.Attribute)
                and self.holds(value_of(target, frame))
                and not self._reads(stmt.value, frame)
            ):
                return "rebuild"  # ``self.optimizer = SGD(...)`` over the field holding it
        if self._reads(stmt, frame, own=True) or self._returned(stmt, frame):
            return "use"
        if depth >= _DEPTH:
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
        if call.func.attr not in _method_names(self.facts):
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
        )

    def _reads(self, node: ast.AST, frame: Frame, own: bool = False) -> bool:
        """An attribute read in ``node`` holds the optimizer (``self.optimizer.step()``)."""
        nodes = flow.own_nodes(node) if own else ast.walk(node)  # type: ignore[arg-type]
        value_of = self.evaluator.value_of
        return any(
            isinstance(n, ast.Attribute)
            and isinstance(n.ctx, ast.Load)
            and n.attr in self.fields
            and self.holds(value_of(n, frame))
            for n in nodes
        )


def _method_names(facts: ModuleFacts) -> frozenset[str]:
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
    if call.func.attr in _method_names(facts):
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


# -- optimizers built by an object's method -------------------------------------------------


@dataclass(frozen=True)
class BuiltByObject:
    """``self.<field> = SGD(...)`` in a method of a same-file class, run by ``statement``
    (``trainer = Trainer(model)`` for ``__init__``, ``trainer.setup()``) of ``scope``."""

    creation: OptimizerCreation
    field: str
    method: Function
    class_name: str
    instance: AbstractObject
    call: ast.Call  # the construction or method call that runs the creation
    statement: flow.StatementInfo
    scope: flow.Scope
    held: frozenset[AbstractObject]  # the modules (and layers) whose parameters it holds
    owners: frozenset[AbstractObject]  # the modules ``params`` names directly


def built_by_objects(facts: ModuleFacts, creations: list[OptimizerCreation]) -> list[BuiltByObject]:
    found: list[BuiltByObject] = []
    for creation in creations:
        method = creation.scope
        owner = facts.parents.get(method)
        if not isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)) or not isinstance(
            owner, ast.ClassDef
        ):
            continue
        self_name = _first_parameter(method)
        target = creation.target or ""
        if self_name is None or creation.params is None or not target.startswith(self_name + "."):
            continue
        field = target[len(self_name) + 1 :]
        if "." in field:
            continue
        for call in _calls_running(facts, owner, method):
            found += _built_at(facts, creation, field, method, call)
    return found


def _calls_running(facts: ModuleFacts, owner: ast.ClassDef, method: Function) -> list[ast.Call]:
    """``Trainer(...)`` for ``__init__``; ``x.setup(...)`` for another method."""
    found = []
    for node in facts.nodes_of(ast.Call):
        func = node.func  # type: ignore[attr-defined]
        if method.name == "__init__":
            if isinstance(func, ast.Name) and func.id == owner.name:
                found.append(node)
        elif isinstance(func, ast.Attribute) and func.attr == method.name:
            found.append(node)
    return found  # type: ignore[return-value]


def _built_at(
    facts: ModuleFacts,
    creation: OptimizerCreation,
    field: str,
    method: Function,
    call: ast.Call,
) -> list[BuiltByObject]:
    evaluator = SemanticModel.of(facts).evaluator
    statement = facts.enclosing_statement(call)
    info = facts.statement_info(statement) if statement is not None else None
    if info is None or facts.enclosing_function(call) is method:
        return []
    if method.name == "__init__":
        instances = evaluator.value_of(call)
    else:
        assert isinstance(call.func, ast.Attribute)
        instances = evaluator.value_of(call.func.value)
    found = []
    for obj in instances:
        if not isinstance(obj, (InstanceObject, ModuleObject)) or not isinstance(
            obj.site, ast.Call
        ):
            continue
        if evaluator.heap.method(obj, method.name) is not method:
            continue
        frame = evaluator.call_frame(method, call, (), frozenset({obj}))
        owners = _owners(evaluator.value_of(creation.params, frame))  # type: ignore[arg-type]
        if not owners:
            continue
        gradients = SemanticModel.of(facts).gradients
        held: set[AbstractObject] = set()
        for module in owners:
            held |= gradients.reachable(module)  # type: ignore[arg-type]
        scope = facts.enclosing_scope(statement)  # type: ignore[arg-type]
        found.append(
            BuiltByObject(
                creation,
                field,
                method,
                getattr(facts.parents.get(method), "name", ""),
                obj,
                call,
                info,
                scope,
                frozenset(held),
                owners,
            )
        )
    return found


def _owners(params: Value) -> frozenset[AbstractObject]:
    """The modules whose parameters ``params`` holds, when every one is known."""
    owners: set[AbstractObject] = set()
    for obj in params:
        if not isinstance(obj, ParameterIterable):
            return frozenset()
        owners |= obj.owners
    if UNKNOWN in owners or not all(isinstance(o, ModuleObject) for o in owners):
        return frozenset()
    return frozenset(owners)


def later_statements(facts: ModuleFacts, built: BuiltByObject) -> Iterator[flow.StatementInfo]:
    """Statements of the calling scope that run after the object built the optimizer."""
    start = built.statement
    for info in facts.statements_of(built.scope):
        if info.order <= start.order and not (set(info.loops) & set(start.loops)):
            continue
        if info.node is start.node or control.mutually_exclusive(facts, start.node, info.node):
            continue
        yield info


def used_after(
    facts: ModuleFacts, built: BuiltByObject, info: flow.StatementInfo, touches: Touches
) -> ast.stmt | None:
    """The first statement after ``info`` in the calling scope that uses the optimizer
    (None when none does, or one builds it again first)."""
    statements = facts.statements_of(built.scope)
    # Later in source order, then (a loop that holds the replacement but not the
    # statement that built the optimizer) round the loop to the statements before it.
    loops = [loop for loop in info.loops if loop not in built.statement.loops]
    around = [s for s in statements if s.order < info.order and loops and loops[0] in s.loops]
    for later in [s for s in statements if s.order > info.order] + around:
        if control.mutually_exclusive(facts, info.node, later.node):
            continue
        touch = touches.of_statement(later.node)
        if touch == "rebuild":
            return None
        if touch == "use":
            return later.node
    return None


def _first_parameter(function: Function) -> str | None:
    first = [*function.args.posonlyargs, *function.args.args][:1]
    return first[0].arg if first else None


def part_owner(
    facts: ModuleFacts, found_owner: ast.expr | None, frame: Frame, part: str, at: ast.stmt
) -> Value:
    """The object whose field a replacement writes: its owner expression in its frame,
    or (a replacement translated to the caller's names) ``trainer.model`` of
    ``trainer.model.fc`` evaluated where the statement ``at`` runs."""
    evaluator = SemanticModel.of(facts).evaluator
    if found_owner is not None:
        return evaluator.value_of(found_owner, frame)
    container = part.endswith("[]")  # ``trainer.model[-1] = ...``: the container's
    chain = part.removesuffix("[]").split(".")
    if len(chain) < 2 - container or "[" in part.removesuffix("[]"):
        return frozenset()
    value = evaluator.name_value(chain[0], at, facts.enclosing_scope(at))
    for attr in chain[1:] if container else chain[1:-1]:
        value = evaluator.heap.load(value, attr)
    return value


def moves_in(
    facts: ModuleFacts, stmt: ast.stmt, modules: frozenset[AbstractObject], methods: frozenset[str]
) -> Iterator[tuple[ast.Call, ast.Call]]:
    """``(call, move)`` for each ``.to()``/``.cuda()``/``.double()``... (``methods``) the
    statement makes on one of ``modules``, directly (``model.double()``,
    ``trainer.model.cuda()``) or in a method it calls on an object (``trainer.to(device)``
    whose method moves ``self.model``): ``call`` is the statement's own call."""
    evaluator = SemanticModel.of(facts).evaluator
    for node in flow.own_nodes(stmt):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        move = _move_of(evaluator, node, (), modules, methods)
        if move is None and node.func.attr in _method_names(facts):
            move = _move_in_method(evaluator, facts, node, (), modules, methods, 0)
        if move is not None:
            yield node, move


def _move_of(
    evaluator: Evaluator,
    call: ast.Call,
    frame: Frame,
    modules: frozenset[AbstractObject],
    methods: frozenset[str],
) -> ast.Call | None:
    if not isinstance(call.func, ast.Attribute) or call.func.attr not in methods:
        return None
    moved = evaluator.value_of(call.func.value, frame)
    if moved & modules and all(isinstance(o, ModuleObject) for o in moved):
        return call
    return None


def _move_in_method(
    evaluator: Evaluator,
    facts: ModuleFacts,
    call: ast.Call,
    frame: Frame,
    modules: frozenset[AbstractObject],
    methods: frozenset[str],
    depth: int,
) -> ast.Call | None:
    """A move of one of ``modules`` in the method ``call`` runs (or one it calls)."""
    assert isinstance(call.func, ast.Attribute)
    for obj in evaluator.value_of(call.func.value, frame):
        method = evaluator.heap.method(obj, call.func.attr)
        if method is None or depth >= _DEPTH:
            continue
        inner = evaluator.call_frame(method, call, frame, frozenset({obj}))
        for info in facts.statements_of(method):
            for node in flow.own_nodes(info.node):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    move = _move_of(evaluator, node, inner, modules, methods)
                    if move is None and node.func.attr in _method_names(facts):
                        move = _move_in_method(
                            evaluator, facts, node, inner, modules, methods, depth + 1
                        )
                    if move is not None:
                        return move
    return None
