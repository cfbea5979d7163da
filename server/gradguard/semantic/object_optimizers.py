"""Optimizers an object's own method builds (``self.optimizer = SGD(self.model.parameters())``
in ``Trainer.__init__`` or ``setup()``), seen from the scope that makes and uses the object:
which statement runs the creation (``trainer = Trainer(model)``, ``trainer.setup()``), which
modules' parameters the optimizer holds for that instance, which later statements replace or
move them, and whether the optimizer is used after (``held_optimizers.Touches``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from gradguard.analysis import flow
from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.optimizers import OptimizerCreation
from gradguard.semantic import control
from gradguard.semantic.held_optimizers import Touches, method_names
from gradguard.semantic.limits import METHOD_DEPTH
from gradguard.semantic.model import SemanticModel
from gradguard.semantic.objects import (
    UNKNOWN,
    AbstractObject,
    InstanceObject,
    ModuleObject,
    ParameterIterable,
    Value,
)
from gradguard.semantic.values import Evaluator, Frame

Function = ast.FunctionDef | ast.AsyncFunctionDef


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
    # Built in the calling scope as the construction's argument
    # (``Trainer(model, optim.SGD(model.parameters()))``), kept by ``__init__`` in ``field``.
    handed: bool = False

    def after(self) -> str:
        """``after `Trainer.__init__()` (line 30) created `self.optimizer` from the parameters
        of `self.model``, for messages."""
        line = self.statement.line
        model = min(self.creation.models, default="the model")
        if self.handed:
            return (
                f"after the optimizer handed to `{self.class_name}(...)` on line {line} (kept "
                f"as `self.{self.field}`) was created from the parameters of `{model}`"
            )
        return (
            f"after `{self.class_name}.{self.method.name}()` (line {line}) created "
            f"`self.{self.field}` from the parameters of `{model}`"
        )

    def created_here(self) -> str:
        if self.handed:
            return f"The optimizer is created here and handed to `{self.class_name}(...)`"
        return f"`self.{self.field}` is created here, when line {self.statement.line} runs"


def built_by_objects(facts: ModuleFacts, creations: list[OptimizerCreation]) -> list[BuiltByObject]:
    found: list[BuiltByObject] = []
    for creation in creations:
        if creation.target is None:
            found += _handed_inline(facts, creation)
            continue
        method = creation.scope
        owner = facts.parents.get(method)
        if not isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)) or not isinstance(
            owner, ast.ClassDef
        ):
            continue
        self_name = control.first_parameter(method)
        target = creation.target or ""
        if self_name is None or creation.params is None or not target.startswith(self_name + "."):
            continue
        field = target[len(self_name) + 1 :]
        if "." in field:
            continue
        for call in _calls_running(facts, owner, method):
            found += _built_at(facts, creation, field, method, call)
    return found


def _handed_inline(facts: ModuleFacts, creation: OptimizerCreation) -> list[BuiltByObject]:
    """``Trainer(model, optim.SGD(model.parameters()))``: an optimizer built as an argument
    of a same-file class's construction, which its ``__init__`` keeps in a field."""
    construction = facts.parents.get(creation.call)
    if isinstance(construction, ast.keyword):
        construction = facts.parents.get(construction)
    if not (
        isinstance(construction, ast.Call)
        and isinstance(construction.func, ast.Name)
        and construction.func.id in facts.classes
        and creation.params is not None
    ):
        return []
    evaluator = SemanticModel.of(facts).evaluator
    owners = _owners(evaluator.value_of(creation.params))
    info = facts.statement_info(creation.statement.node)
    if not owners or info is None:
        return []
    touches = Touches(facts, creation.call)
    gradients = SemanticModel.of(facts).gradients
    held: set[AbstractObject] = set()
    for module in owners:
        held |= gradients.reachable(module)  # type: ignore[arg-type]
    found = []
    for obj in evaluator.value_of(construction):
        init = evaluator.heap.method(obj, "__init__")
        fields = [f for f in sorted(touches.fields) if touches.holds(evaluator.heap.field(obj, f))]
        if init is None or not fields or not isinstance(obj, (InstanceObject, ModuleObject)):
            continue
        name = construction.func.id
        found.append(
            BuiltByObject(
                creation,
                fields[0],
                init,
                name,
                obj,
                construction,
                info,
                creation.scope,
                frozenset(held),
                owners,
                handed=True,
            )
        )
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
        if move is None and node.func.attr in method_names(facts):
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
        if method is None or depth >= METHOD_DEPTH:
            continue
        inner = evaluator.call_frame(method, call, frame, frozenset({obj}))
        for info in facts.statements_of(method):
            for node in flow.own_nodes(info.node):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    move = _move_of(evaluator, node, inner, modules, methods)
                    if move is None and node.func.attr in method_names(facts):
                        move = _move_in_method(
                            evaluator, facts, node, inner, modules, methods, depth + 1
                        )
                    if move is not None:
                        return move
    return None


# Methods a trainer may call on the model it keeps without changing its parameters.
_READS = frozenset({"parameters", "named_parameters", "train", "eval", "zero_grad", "state_dict"})


def only_kept(facts: ModuleFacts, call: ast.Call, argument: ast.expr) -> bool:
    """``Trainer(model)`` of a same-file class that is not a module, whose ``__init__``
    keeps the argument in a field (``self.model = model``) and whose methods only call
    that field, read its parameters or switch its mode: handing the model over adds no
    parameter to it."""
    func = call.func
    info = facts.classes.get(func.id) if isinstance(func, ast.Name) else None
    init = info.methods.get("__init__") if info is not None else None
    if info is None or init is None or info.is_module or control.first_parameter(init) is None:
        return False
    positional = [a.arg for a in [*init.args.posonlyargs, *init.args.args]][1:]
    names = [p for p, a in zip(positional, call.args, strict=False) if a is argument]
    names += [k.arg for k in call.keywords if k.value is argument and k.arg]
    if len(names) != 1:
        return False
    fields = set()
    for node in ast.walk(init):
        if isinstance(node, ast.Name) and node.id == names[0] and isinstance(node.ctx, ast.Load):
            store = facts.parents.get(node)
            if not (isinstance(store, ast.Assign) and len(store.targets) == 1):
                return False  # handed on inside ``__init__`` (``add_head(model)``)
            target = store.targets[0]
            if not _self_attribute(target, init):
                return False
            fields.add(target.attr)  # type: ignore[attr-defined]
    return bool(fields) and all(
        _only_read(facts, method, fields) for method in info.methods.values()
    )


def _only_read(facts: ModuleFacts, method: Function, fields: set[str]) -> bool:
    for node in ast.walk(method):
        if not (isinstance(node, ast.Attribute) and node.attr in fields):
            continue
        if not _self_attribute(node, method):
            continue
        parent = facts.parents.get(node)
        if isinstance(node.ctx, ast.Store):
            continue
        if isinstance(parent, ast.Call) and parent.func is node:
            continue  # ``self.model(x)``
        if isinstance(parent, ast.Attribute) and parent.attr in _READS:
            grand = facts.parents.get(parent)
            if isinstance(grand, ast.Call) and grand.func is parent:
                continue  # ``self.model.parameters()``, ``self.model.train()``
        return False
    return True


def _self_attribute(node: ast.AST, method: Function) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == control.first_parameter(method)
    )
