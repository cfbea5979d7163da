"""The events of a training step, and how one call becomes one (or none).

An event is one of: a backward (``loss.backward()``, ``scaler.scale(loss).backward()``),
an optimizer step (``opt.step()``, ``scaler.step(opt)``), a gradient clearing
(``zero_grad()`` of an optimizer or a module, a ``p.grad = None`` loop), a scaler's
``unscale_(opt)`` or ``update()``, a clip (``clip_grad_norm_``, ``clip_grad_value_``),
a scheduler's ``step()``, a module's ``eval()``/``train()``; or OPAQUE, a same-file
helper that could not be followed (anything may happen there).
"""

from __future__ import annotations

import ast
import enum
from dataclasses import dataclass

from gradguard.analysis import flow
from gradguard.semantic.catalogue import training
from gradguard.semantic.roles import Roles, Scheduler

BACKWARD_METHODS = frozenset({"backward", "manual_backward"})


class EventKind(str, enum.Enum):
    BACKWARD = "backward"
    STEP = "step"
    CLEAR = "clear"
    UNSCALE = "unscale"
    SCALER_UPDATE = "scaler update"
    CLIP = "clip"
    SCHEDULER_STEP = "scheduler step"
    EVAL = "eval"
    TRAIN = "train"
    OPAQUE = "opaque"


@dataclass(frozen=True)
class Guard:
    """A block an event sits in, below the statement being asked about: the ``body`` or
    ``orelse`` of an ``if``, a loop's body (``loop``), a handler, a ``case``, or the
    lazy part of an expression (``lazy``)."""

    owner: ast.AST
    part: str
    # For ``if`` blocks: the test, and whether the block runs when it is true.
    test: ast.expr | None = None
    when: bool = True


@dataclass(frozen=True, eq=False)
class StepEvent:
    kind: EventKind
    # The call (or the clearing ``for`` loop) that performs the event; for an event
    # inside a same-file helper, the call of the helper in the analysed scope.
    node: ast.AST
    # The statement of the analysed scope that holds ``node``.
    statement: ast.stmt
    # BACKWARD: the tensor (``loss``). STEP/UNSCALE: the optimizer's dotted name.
    # CLEAR: what ``zero_grad()`` is called on, or the module whose parameters a
    # ``p.grad = None`` loop walks. SCHEDULER_STEP: the scheduler; EVAL/TRAIN: the
    # module; SCALER_UPDATE: the scaler. None: unknown.
    target: str | None = None
    # CLEAR: True for ``<optimizer>.zero_grad()``, False for modules and manual loops.
    on_optimizer: bool = False
    # CLEAR: the gradients become None (default) rather than zero tensors.
    set_to_none: bool = True
    # The event surely runs whenever its statement runs.
    definite: bool = True
    # The event happens inside a same-file helper called by ``statement``.
    via_helper: bool = False
    # The call itself, also for an event inside a helper (where ``node`` is the helper's call).
    origin: ast.AST | None = None
    # BACKWARD of ``scaler.scale(loss)``, STEP through ``scaler.step``, UNSCALE, UPDATE:
    # the scaler's dotted name.
    scaler: str | None = None
    # The blocks between ``statement``'s level and the event, outermost first.
    guards: tuple[Guard, ...] = ()
    # The ``with`` items around the event below that level, outermost first.
    contexts: tuple[ast.expr, ...] = ()
    # SCHEDULER_STEP: what the file shows of the scheduler.
    scheduler: Scheduler | None = None
    # SCHEDULER_STEP: ``step(metric)`` / ``step(epoch)`` was given an argument.
    with_arguments: bool = False

    @property
    def call(self) -> ast.AST:
        return self.origin if self.origin is not None else self.node


# The old name, kept for the rules written against it.
GradEvent = StepEvent


def call_event(roles: Roles, call: ast.Call, stmt: ast.stmt, definite: bool) -> StepEvent | None:
    """The event ``call`` performs, or None (a helper call is expanded by the caller)."""
    method = flow.method_name(call)
    func = call.func
    receiver = flow.dotted_name(func.value) if isinstance(func, ast.Attribute) else None
    made = _event_kind(roles, call, method, receiver)
    if made is None:
        return None
    kind, fields = made
    return StepEvent(kind, call, stmt, definite=definite, origin=call, **fields)


def _event_kind(
    roles: Roles, call: ast.Call, method: str | None, receiver: str | None
) -> tuple[EventKind, dict] | None:
    if method in BACKWARD_METHODS:
        return EventKind.BACKWARD, {
            "scaler": _scaled_by(roles, call),
            "target": _loss_of(roles, call),
        }
    if method == "step":
        return _step_kind(roles, call, receiver)
    if method == "zero_grad" and isinstance(call.func, ast.Attribute):
        return EventKind.CLEAR, {
            "target": receiver,
            "on_optimizer": bool(receiver and roles.is_optimizer(receiver)),
            "set_to_none": _set_to_none(call),
        }
    scaler_method = method in (training.SCALER_UNSCALE, training.SCALER_UPDATE)
    if scaler_method and receiver is not None and roles.scaler(receiver) is not None:
        if method == training.SCALER_UNSCALE:
            return EventKind.UNSCALE, {"scaler": receiver, "target": _first_name(call)}
        if method == training.SCALER_UPDATE:
            return EventKind.SCALER_UPDATE, {"scaler": receiver, "target": receiver}
    if method in training.MODE_METHODS and receiver is not None:
        return _mode_kind(call, method, receiver)
    if roles.facts.qualify(call.func) in training.CLIP_FUNCTIONS:
        return EventKind.CLIP, {}
    if looks_like_clearing_call(call):
        return EventKind.CLEAR, {}
    return None


def _step_kind(roles: Roles, call: ast.Call, receiver: str | None) -> tuple[EventKind, dict] | None:
    if receiver is None:
        return None
    scheduler = roles.scheduler(receiver)
    if scheduler is not None and not roles.is_optimizer(receiver):
        return EventKind.SCHEDULER_STEP, {
            "target": receiver,
            "scheduler": scheduler,
            "with_arguments": bool(call.args or call.keywords),
        }
    if call.args or call.keywords:
        # scaler.step(optimizer); optimizer.step(closure) is left alone.
        if len(call.args) == 1 and not call.keywords and not roles.is_optimizer(receiver):
            argument = flow.dotted_name(call.args[0])
            if argument and roles.is_optimizer(argument):
                scaler = receiver if roles.scaler(receiver) is not None else None
                return EventKind.STEP, {"target": argument, "scaler": scaler}
        return None
    if roles.is_optimizer(receiver):
        return EventKind.STEP, {"target": receiver}
    return None


def _mode_kind(call: ast.Call, method: str | None, receiver: str) -> tuple[EventKind, dict] | None:
    if method == "eval":
        return (EventKind.EVAL, {"target": receiver}) if not call.args else None
    values = call.args[:1] + [k.value for k in call.keywords if k.arg == "mode"]
    if not values:
        return EventKind.TRAIN, {"target": receiver}
    value = values[0]
    if isinstance(value, ast.Constant) and isinstance(value.value, bool):
        return (EventKind.TRAIN if value.value else EventKind.EVAL), {"target": receiver}
    return None


def _scaled_by(roles: Roles, call: ast.Call) -> str | None:
    """``scaler`` for ``scaler.scale(loss).backward()``."""
    func = call.func
    if not isinstance(func, ast.Attribute) or not isinstance(func.value, ast.Call):
        return None
    inner = func.value
    if flow.method_name(inner) != training.SCALER_SCALE or not isinstance(
        inner.func, ast.Attribute
    ):
        return None
    scaler = flow.dotted_name(inner.func.value)
    return scaler if scaler and roles.scaler(scaler) is not None else None


def _loss_of(roles: Roles, call: ast.Call) -> str | None:
    """``loss`` for ``loss.backward()``, ``scaler.scale(loss).backward()``,
    ``accelerator.backward(loss)`` and ``self.manual_backward(loss)``."""
    receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
    owner = flow.dotted_name(receiver) if receiver is not None else None
    if call.args and (
        flow.method_name(call) == "manual_backward" or (owner and roles.is_accelerator(owner))
    ):
        return flow.dotted_name(call.args[0])
    if isinstance(receiver, ast.Call) and flow.method_name(receiver) == training.SCALER_SCALE:
        receiver = receiver.args[0] if len(receiver.args) == 1 else None
    return flow.dotted_name(receiver) if receiver is not None else None


def _first_name(call: ast.Call) -> str | None:
    if call.args:
        return flow.dotted_name(call.args[0])
    for keyword in call.keywords:
        if keyword.arg == "optimizer":
            return flow.dotted_name(keyword.value)
    return None


def _set_to_none(call: ast.Call) -> bool:
    """``zero_grad(set_to_none=False)`` / ``zero_grad(False)`` keep zero tensors."""
    values = [k.value for k in call.keywords if k.arg == "set_to_none"] + call.args[:1]
    return not any(isinstance(v, ast.Constant) and v.value is False for v in values)


def looks_like_clearing_call(call: ast.Call) -> bool:
    """``zero_grads(model)``, ``torch._foreach_zero_(grads)``, ``set_grads_to_none(...)``."""
    name = (flow.dotted_name(call.func) or "").rsplit(".", 1)[-1].lower()
    return "zero" in name and ("grad" in name or name.startswith("_foreach"))


def is_grad_attribute(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "grad"


def grad_owner(node: ast.AST) -> ast.AST | None:
    """``p`` for ``p.grad`` and ``p.grad.data``."""
    if isinstance(node, ast.Attribute) and node.attr == "data":
        node = node.value
    return node.value if is_grad_attribute(node) else None  # type: ignore[attr-defined]


def stores_grad(stmt: ast.stmt) -> bool:
    """``x.grad = ...`` or ``del x.grad`` as a statement (outside a clearing loop)."""
    if isinstance(stmt, ast.Delete):
        return any(is_grad_attribute(t) for t in stmt.targets)
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
        return any(is_grad_attribute(t) for t in flow.assigned_targets(stmt))
    return False


def sets_grad_to_none(loop: ast.stmt) -> bool:
    """A clearing loop that leaves ``None`` (``p.grad = None``, ``del p.grad``)."""
    for node in flow.walk_local(loop):
        if isinstance(node, ast.Delete) and any(is_grad_attribute(t) for t in node.targets):
            return True
        if (
            isinstance(node, ast.Assign)
            and any(is_grad_attribute(t) for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and node.value.value is None
        ):
            return True
    return False


def clears_grad_of(node: ast.AST, variable: str) -> bool:
    """``variable.grad = None``, ``del variable.grad``, ``variable.grad(.data).zero_()``."""
    targets: list[ast.AST] = []
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = list(flow.assigned_targets(node))
    elif isinstance(node, ast.Delete):
        targets = list(node.targets)
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "zero_"  # not mul_/clamp_: scaling or clipping is no clearing
    ):
        targets = [node.func.value]
    for target in targets:
        owner = grad_owner(target)
        if isinstance(owner, ast.Name) and owner.id == variable:
            return True
    return False


def may_clear(node: ast.AST) -> bool:
    """The node may clear gradients: any ``zero_grad`` reference, ``.grad`` stores,
    deletions or in-place calls, ``set_to_none``, functions named like clearing."""
    if isinstance(node, ast.Attribute) and node.attr == "zero_grad":
        return True
    if isinstance(node, ast.keyword) and node.arg == "set_to_none":
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Delete)):
        targets = node.targets if isinstance(node, ast.Delete) else flow.assigned_targets(node)
        return any(is_grad_attribute(t) for t in targets)
    if isinstance(node, ast.Call):
        if looks_like_clearing_call(node):
            return True
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr.endswith("_"):
            return grad_owner(func.value) is not None
        if isinstance(func, ast.Name) and func.id == "setattr" and len(node.args) >= 2:
            name = node.args[1]
            return isinstance(name, ast.Constant) and name.value == "grad"
    return False
