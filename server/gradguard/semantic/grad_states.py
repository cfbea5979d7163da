"""What a tensor's ``.grad`` holds at a use, from the statements before it in its scope.

Walks the scope's statements in order, for the tensor (or the model whose parameter it
is), and keeps the last event that decides ``.grad``: created (a fresh leaf requiring
grad, a new model), created without ``requires_grad`` (it never gets a gradient), a
``backward()`` (it has one), ``zero_grad()`` with the default ``set_to_none=True`` or
``x.grad = None`` (None again). A statement that may change it some other way (a call
receiving the tensor) makes it unknown; unknown stays silent. Only events on every path
to the use count (no branch between them). Loops: the state at the end of the innermost
loop's body is what the next iteration starts with.
"""

from __future__ import annotations

import ast
import enum
from collections.abc import Iterator
from dataclasses import dataclass

from gradguard.analysis import flow
from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.optimizers import OptimizerIndex
from gradguard.semantic.grad_uses import GradUse
from gradguard.semantic.model import SemanticModel
from gradguard.semantic.objects import ModuleObject, TensorObject

# Tensor methods that take another tensor as an operand (`x.mm(w)`): they compute,
# they never run backward().
_TENSOR_MATH_METHODS = frozenset(
    {
        "mm",
        "bmm",
        "matmul",
        "mv",
        "dot",
        "add",
        "sub",
        "mul",
        "div",
        "pow",
        "addmm",
        "expand_as",
        "view_as",
        "reshape_as",
        "type_as",
        "masked_fill",
        "where",
        "maximum",
        "minimum",
    }
)
# Blocks every statement of which runs whenever the enclosing block runs (loops are
# assumed to run at least once: a training loop always does).
_STRAIGHT_THROUGH = (*flow.LOOP_TYPES, ast.With, ast.AsyncWith, ast.Try)


class State(enum.Enum):
    UNKNOWN = "unknown"
    HAS_GRAD = "has grad"
    FRESH = "fresh"  # requires grad, no backward since creation
    NO_REQUIRES = "no requires_grad"
    ZEROED = "zeroed"
    SET_NONE = "set to None"
    PARAMETER_LOOP = "loop over parameters"
    NO_GRADIENT = "a parameter the module may leave without gradient"


NONE_STATES = frozenset({State.FRESH, State.NO_REQUIRES, State.ZEROED, State.SET_NONE})


@dataclass(frozen=True)
class Reason:
    state: State
    event: ast.AST | None = None
    receiver: str = ""
    detail: str = ""  # for a loop over parameters: why some may lack a gradient


class GradStates:
    def __init__(self, facts: ModuleFacts, optimizers: OptimizerIndex) -> None:
        self.facts = facts
        self.optimizers = optimizers
        self.semantic = SemanticModel.of(facts)
        self._infos: dict[ast.AST, dict[ast.stmt, flow.StatementInfo]] = {}

    def infos(self, scope: flow.Scope) -> dict[ast.stmt, flow.StatementInfo]:
        if scope not in self._infos:
            self._infos[scope] = {i.node: i for i in self.facts.statements_of(scope)}
        return self._infos[scope]

    def reason(self, use: GradUse) -> Reason | None:
        """Why ``use``'s ``.grad`` is None there, or None (it may well have a value)."""
        scope = self.facts.enclosing_scope(use.statement)
        info = self.infos(scope).get(use.statement)
        if info is None:
            return None
        statements = self.facts.statements_of(scope)
        first = self._run(use, info, statements[: info.order], Reason(State.UNKNOWN))
        if first.state in NONE_STATES:
            return None if self._branch_after(info, first) else first
        if info.loops and first.state is State.UNKNOWN:
            # Later iterations: the state at the end of the innermost loop's body.
            loop = info.loops[-1]
            loop_info = self.infos(scope)[loop]
            after = [s for s in statements[info.order + 1 :] if loop in s.loops]
            before = [s for s in statements[loop_info.order + 1 : info.order]]
            again = self._run(use, info, after + before, first)
            if again.state in NONE_STATES and again.event is not None:
                return None if self._branch_after(info, again) else again
        return None

    def _branch_after(self, info: flow.StatementInfo, reason: Reason) -> bool:
        """The use sits in a branch that the event does not: `if step > 0:` may be what
        keeps it away from the None (stay silent)."""
        if reason.event is None:
            return False
        around_event = set(self.facts.ancestors(reason.event))
        return any(
            isinstance(conditional, (ast.If, ast.Match)) and conditional not in around_event
            for conditional in info.conditionals
        )

    # -- straight-line state --------------------------------------------------

    def _run(
        self,
        use: GradUse,
        target: flow.StatementInfo,
        statements: list[flow.StatementInfo],
        start: Reason,
    ) -> Reason:
        reason = start
        root = use.owner.split(".", 1)[0]
        for info in statements:
            event = self._event(use, root, info)
            if event is None:
                continue
            if not self._always_runs_before(info, target):
                reason = Reason(State.UNKNOWN)
            elif event.state is State.HAS_GRAD and reason.state is State.NO_REQUIRES:
                # backward() does not fill a tensor that does not require grad, unless it
                # involves the tensor directly (then stay silent: we may be wrong).
                if _mentions(info.node, root) or _involves_loss_of(info, root):
                    reason = Reason(State.UNKNOWN)
            elif event.state is State.FRESH and reason.state is State.NO_REQUIRES:
                reason = Reason(State.FRESH, reason.event)  # requires_grad_() after creation
            elif event.state is not State.FRESH or event.event is not None:
                reason = event
        return reason

    def _event(self, use: GradUse, root: str, info: flow.StatementInfo) -> Reason | None:
        """What the statement does to ``use.owner``'s grad, or None for nothing."""
        stmt = info.node
        result: Reason | None = None
        for target in flow.assigned_targets(stmt):
            name = flow.dotted_name(target)
            if name == f"{use.owner}.grad":
                value = getattr(stmt, "value", None)
                is_none = isinstance(value, ast.Constant) and value.value is None
                result = Reason(State.SET_NONE if is_none else State.HAS_GRAD, stmt)
            elif name in (root, use.owner):
                result = self._binding(use, stmt, name)
        for node in flow.own_nodes(stmt):
            if not isinstance(node, ast.Call):
                continue
            if flow.is_backward_call(node):
                result = Reason(State.HAS_GRAD, node)
            elif flow.method_name(node) == "zero_grad":
                result = self._zero_grad(use, node) or result
            elif _sets_requires_grad(node, use.owner):
                result = Reason(State.FRESH, None)
            elif self._may_touch(node, root):
                result = Reason(State.UNKNOWN)
        if isinstance(stmt, ast.Assign) and _assigns_requires_grad(stmt, use.owner):
            result = Reason(State.FRESH, None)
        return result

    def _binding(self, use: GradUse, stmt: ast.stmt, name: str | None) -> Reason:
        value = getattr(stmt, "value", None)
        if not isinstance(stmt, (ast.Assign, ast.AnnAssign)) or not isinstance(value, ast.Call):
            return Reason(State.UNKNOWN)
        tensors = self.semantic.value_of(value) if name == use.owner else frozenset()
        if tensors and all(isinstance(obj, TensorObject) for obj in tensors):
            # A torch factory, or a same-file function returning one (``prepare(img)``).
            if any(obj.leaf is False for obj in tensors):  # type: ignore[attr-defined]
                return Reason(State.UNKNOWN)  # a non-leaf: GG303's finding
            flags = {obj.requires_grad for obj in tensors}  # type: ignore[attr-defined]
            if flags == {False}:
                return Reason(State.NO_REQUIRES, stmt)
            return Reason(State.FRESH, stmt) if flags == {True} else Reason(State.UNKNOWN)
        if name == use.owner and self.facts.is_parameter_call(value):
            return Reason(State.FRESH, stmt)
        if name != use.owner and self.facts.is_module_call(value):
            return Reason(State.FRESH, stmt)  # a new model: none of its parameters has a grad
        return Reason(State.UNKNOWN)

    def _zero_grad(self, use: GradUse, call: ast.Call) -> Reason | None:
        if _keeps_zeros(call):
            return Reason(State.HAS_GRAD, call)
        receiver = (
            flow.dotted_name(call.func.value) if isinstance(call.func, ast.Attribute) else None
        )
        if receiver is None:
            return Reason(State.UNKNOWN)
        if _is_prefix(receiver, use.owner):
            return Reason(State.ZEROED, call, receiver)
        creations = self.optimizers.bound_to(receiver)
        if not creations:
            return Reason(State.UNKNOWN)
        if any(self._optimizer_holds(creation.params, use.owner) for creation in creations):
            return Reason(State.ZEROED, call, receiver)
        return None  # an optimizer of other parameters

    @staticmethod
    def _optimizer_holds(params: ast.expr | None, owner: str) -> bool:
        if params is None:
            return False
        for node in flow.walk_local(params):
            name = flow.dotted_name(node) if isinstance(node, (ast.Name, ast.Attribute)) else None
            if name and (_is_prefix(name, owner) or name == owner):
                return True
        return False

    def _may_touch(self, call: ast.Call, root: str) -> bool:
        """A call that receives the tensor or model and may run backward() on it."""
        arguments = list(call.args) + [k.value for k in call.keywords]
        if not any(isinstance(a, ast.Name) and a.id == root for a in arguments):
            return False
        qualified = self.facts.qualify(call.func) or ""
        if qualified.startswith("torch.") or self.facts.is_module_call(call):
            return False
        if flow.method_name(call) in _TENSOR_MATH_METHODS:
            return False  # `x.mm(w)`: tensor arithmetic, no backward()
        # Calling a model or a loss module (`model(x)`, `criterion(out, y)`) runs no backward.
        called = self.semantic.value_of(call.func)
        return not (called and all(isinstance(obj, ModuleObject) for obj in called))

    def _always_runs_before(self, event: flow.StatementInfo, target: flow.StatementInfo) -> bool:
        """The event's statement runs whenever the code leading to ``target`` runs:
        between them there are only loop, ``with`` and ``try`` bodies, no branches."""
        infos = self.infos(self.facts.enclosing_scope(target.node))
        target_blocks = {id(info.block) for info in self._statement_chain(target, infos)}
        for info in self._statement_chain(event, infos):
            if id(info.block) in target_blocks:
                return True
            holder = self.facts.parents.get(info.node)
            if not isinstance(holder, _STRAIGHT_THROUGH):
                return False
            if info.block is not holder.body and info.block is not getattr(
                holder, "finalbody", None
            ):
                return False
        return False

    def _statement_chain(
        self, info: flow.StatementInfo, infos: dict[ast.stmt, flow.StatementInfo]
    ) -> Iterator[flow.StatementInfo]:
        """The statement and the compound statements around it, innermost first."""
        current: flow.StatementInfo | None = info
        while current is not None:
            yield current
            holder = self.facts.parents.get(current.node)
            while holder is not None and not isinstance(holder, ast.stmt):
                holder = self.facts.parents.get(holder)  # except handlers, match cases
            current = infos.get(holder) if isinstance(holder, ast.stmt) else None


def _mentions(node: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in flow.walk_local(node))


def _involves_loss_of(info: flow.StatementInfo, root: str) -> bool:
    """``loss = f(x); loss.backward()`` in one block: the backward involves ``x``."""
    for call in flow.calls_in(info.node):
        if flow.is_backward_call(call) and isinstance(call.func, ast.Attribute):
            receiver = flow.dotted_name(call.func.value)
            for earlier in info.block[: info.index]:
                if receiver and flow.assigns_name(earlier, receiver) and _mentions(earlier, root):
                    return True
    return False


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _keeps_zeros(call: ast.Call) -> bool:
    """``zero_grad(set_to_none=False)`` (or positional ``False``) zeroes in place."""
    flag = _keyword(call, "set_to_none") or (call.args[0] if call.args else None)
    return isinstance(flag, ast.Constant) and flag.value is False


def _sets_requires_grad(call: ast.Call, owner: str) -> bool:
    if flow.method_name(call) != "requires_grad_" or not isinstance(call.func, ast.Attribute):
        return False
    if flow.dotted_name(call.func.value) != owner:
        return False
    flag = call.args[0] if call.args else _keyword(call, "requires_grad")
    return flag is None or (isinstance(flag, ast.Constant) and flag.value is True)


def _assigns_requires_grad(stmt: ast.Assign, owner: str) -> bool:
    return any(flow.dotted_name(t) == f"{owner}.requires_grad" for t in stmt.targets)


def _is_prefix(prefix: str, name: str) -> bool:
    return name.startswith(prefix + ".")
