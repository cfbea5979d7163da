"""## What it does
Checks for attribute and in-place uses of a tensor's `.grad` (`p.grad.zero_()`,
`p.grad.data.clamp_(...)`, `w.grad.norm()`) where `.grad` can still be `None` and
nothing checks it first:
- in a loop (or comprehension) over `model.parameters()`, or over a name holding them,
  when the file shows a reason some parameter can lack a gradient: a layer `forward()`
  never uses, a branch in `forward()` that decides which layers run, a layer run under
  `torch.no_grad()`, parameters frozen anywhere in the file, one list holding several
  models' parameters, or no `backward()` since the model was built. A loop over a model
  every parameter of which the file shows taking part (`torch.nn` layers, a same-file
  module whose `forward()` uses all its layers) is left alone, and so is a model the file
  does not show (a function's parameter, an imported model) when nothing is frozen;
- before the first `backward()` after the tensor or model was created;
- after `optimizer.zero_grad()` or `model.zero_grad()` with no `backward()` in between;
- after `x.grad = None`;
- on a tensor created without `requires_grad=True`.

## Why is this bad?
`.grad` is `None` until a `backward()` reaches the tensor. Parameters that take no part
in the loss (an unused layer, a frozen backbone) keep `grad is None` even after
`backward()`, and `zero_grad()` sets every gradient back to `None` because its default
is `set_to_none=True`. This is what really produces
`AttributeError: 'NoneType' object has no attribute 'zero_'`.

## What PyTorch does
For a parameter without a gradient, `p.grad.zero_()` raises
`AttributeError: 'NoneType' object has no attribute 'zero_'`, and `p.grad.data` raises
`AttributeError: 'NoneType' object has no attribute 'data'`. `optimizer.zero_grad()` and
`optimizer.step()` themselves skip parameters whose `.grad` is `None`.

## Example
```python
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 8)
        self.head = nn.Linear(8, 2)
        self.aux_head = nn.Linear(8, 2)  # not used by forward()

    def forward(self, x):
        return self.head(torch.relu(self.body(x)))


model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(2):
    loss = model(torch.randn(16, 4)).pow(2).mean()
    loss.backward()
    optimizer.step()
    for p in model.parameters():
        p.grad.zero_()
```

## Use instead
```python
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 8)
        self.head = nn.Linear(8, 2)
        self.aux_head = nn.Linear(8, 2)  # not used by forward()

    def forward(self, x):
        return self.head(torch.relu(self.body(x)))


model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(2):
    loss = model(torch.randn(16, 4)).pow(2).mean()
    loss.backward()
    optimizer.step()
    for p in model.parameters():
        if p.grad is not None:
            p.grad.zero_()
```

## Fix safety
Two fixes are offered, both safe. "Wrap in `if p.grad is not None:`" puts the statement
under that check, so it runs only when there is a gradient; it is offered only when the
use is in a whole statement on its own lines that binds no name (an expression statement,
or an assignment to an attribute such as `p.grad.data = ...`). For the zeroing idiom
`p.grad.zero_()` / `p.grad.data.zero_()`, "Replace with `p.grad = None`" clears the
gradient the way `zero_grad()` does by default: the next `backward()` stores a fresh
gradient either way. One difference to know: `optimizer.step()` skips a parameter whose
`.grad` is `None` (no weight decay or momentum update for it that step).
"""

from __future__ import annotations

import ast
import enum
from collections.abc import Iterator
from dataclasses import dataclass

from gradguard.analysis import edits, flow, none_guards
from gradguard.analysis.facts import ModuleFacts
from gradguard.findings import Finding, Fix, FixSafety, RelatedLocation, Severity, Span
from gradguard.rules.base import FixAvailability, Raises, Rule, RuleContext
from gradguard.semantic import control
from gradguard.semantic.catalogue.tensors import MOVE_AND_CAST_METHODS
from gradguard.semantic.model import SemanticModel
from gradguard.semantic.objects import ModuleObject, ParameterIterable, TensorObject

_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
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
# Calls between building a model and reading its gradients that run no backward().
_MODEL_HOUSEKEEPING = frozenset({*MOVE_AND_CAST_METHODS, "train", "eval", "parameters"})
_BUILTINS_WITHOUT_BACKWARD = frozenset({"print", "len", "range", "list", "tuple", "enumerate"})
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


_NONE_STATES = frozenset({State.FRESH, State.NO_REQUIRES, State.ZEROED, State.SET_NONE})


@dataclass(frozen=True)
class Reason:
    state: State
    event: ast.AST | None = None
    receiver: str = ""
    detail: str = ""  # for a loop over parameters: why some may lack a gradient


@dataclass(frozen=True)
class GradUse:
    grad: ast.Attribute  # the `x.grad` node
    owner: str  # "x"
    attribute: str  # the attribute read on `x.grad` ("zero_", "data")
    statement: ast.stmt


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    analysis = _Analysis(context)
    reported: set[tuple[int, str]] = set()
    for use in _grad_uses(context.facts):
        key = (id(use.statement), use.owner)
        if key in reported:
            continue
        if none_guards.is_guarded(use.grad, f"{use.owner}.grad", context.facts.parents):
            continue
        reason = analysis.reason(use)
        if reason is None:
            continue
        reported.add(key)
        yield rule.finding(
            context,
            _use_span(context, use),
            _message(use, reason, context),
            related=_related(context, reason),
            fixes=_fixes(context, use),
        )


def _use_span(context: RuleContext, use: GradUse) -> Span:
    """``x.grad.zero_`` / ``x.grad.data``: the `.grad` use and the attribute read on it."""
    parent = context.facts.parents.get(use.grad)
    return context.source.span_of(parent if parent is not None else use.grad)


def _grad_uses(facts: ModuleFacts) -> Iterator[GradUse]:
    """``x.grad.<attr>`` reads, in source order."""
    uses = []
    for node in facts.parents:  # every node but the module itself
        if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)):
            continue
        grad = node.value
        if grad.attr != "grad" or not isinstance(grad.ctx, ast.Load):
            continue
        owner = flow.dotted_name(grad.value)
        if owner and owner.endswith(".grad"):
            continue  # `x.grad.grad.<attr>`: the `x.grad` link is the one reported
        statement = facts.enclosing_statement(node)
        if owner and statement is not None:
            uses.append(GradUse(grad, owner, node.attr, statement))
    uses.sort(key=lambda use: (use.grad.lineno, use.grad.col_offset))
    return iter(uses)


# -- why `.grad` can be None ------------------------------------------------------


class _Analysis:
    def __init__(self, context: RuleContext) -> None:
        self.context = context
        self.facts = context.facts
        self._infos: dict[ast.AST, dict[ast.stmt, flow.StatementInfo]] = {}
        self.semantic = SemanticModel.of(context.facts)

    def infos(self, scope: flow.Scope) -> dict[ast.stmt, flow.StatementInfo]:
        if scope not in self._infos:
            self._infos[scope] = {i.node: i for i in self.facts.statements_of(scope)}
        return self._infos[scope]

    def reason(self, use: GradUse) -> Reason | None:
        loop_reason = self._parameter_loop(use)
        if loop_reason is not None:
            return loop_reason
        scope = self.facts.enclosing_scope(use.statement)
        info = self.infos(scope).get(use.statement)
        if info is None:
            return None
        statements = self.facts.statements_of(scope)
        first = self._run(use, info, statements[: info.order], Reason(State.UNKNOWN))
        if first.state in _NONE_STATES:
            return None if self._branch_after(info, first) else first
        if info.loops and first.state is State.UNKNOWN:
            # Later iterations: the state at the end of the innermost loop's body.
            loop = info.loops[-1]
            loop_info = self.infos(scope)[loop]
            after = [s for s in statements[info.order + 1 :] if loop in s.loops]
            before = [s for s in statements[loop_info.order + 1 : info.order]]
            again = self._run(use, info, after + before, first)
            if again.state in _NONE_STATES and again.event is not None:
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

    # -- loops over model.parameters() ------------------------------------------

    def _parameter_loop(self, use: GradUse) -> Reason | None:
        """In a loop (or comprehension) over parameters that the file shows may lack a
        gradient: why, or None (not such a loop, or every parameter takes part)."""
        for child, parent in _ancestors_in_scope(use.grad, self.facts.parents):
            if (
                isinstance(parent, (ast.For, ast.AsyncFor))
                and child in parent.body
                and self._binds_parameter(parent.target, parent.iter, use.owner)
            ):
                return (
                    None if self._checked_in_loop(parent, use) else self._gap(parent, parent.iter)
                )
            if isinstance(parent, _COMPREHENSIONS):
                generator = next(
                    (
                        g
                        for g in parent.generators
                        if self._binds_parameter(g.target, g.iter, use.owner)
                    ),
                    None,
                )
                if generator is None:
                    continue
                if _requires_grad_tested(parent, use.owner) or self._asserted_before(parent, use):
                    return None
                return self._gap(parent, generator.iter)
        return None

    def _binds_parameter(self, target: ast.expr, iterable: ast.expr, owner: str) -> bool:
        """``for p in model.parameters()`` / ``for name, p in model.named_parameters()``,
        or through a name holding them (``params = list(model.parameters())``)."""
        value = self.semantic.value_of(iterable)
        iterables = [obj for obj in value if isinstance(obj, ParameterIterable)]
        if not iterables or len(iterables) != len(value):
            return False
        if all(obj.named for obj in iterables):
            if not (isinstance(target, ast.Tuple) and len(target.elts) == 2):
                return False
            target = target.elts[1]
        elif any(obj.named for obj in iterables):
            return False
        return isinstance(target, ast.Name) and target.id == owner

    def _gap(self, loop: ast.AST, iterable: ast.expr) -> Reason | None:
        """The reason the file shows for some parameter to have no gradient here."""
        gap = self.semantic.parameter_gap(iterable)
        if gap is not None:
            return Reason(State.PARAMETER_LOOP, gap.node, detail=gap.reason)
        creation = self._created_without_backward(loop, iterable)
        return Reason(State.FRESH, creation) if creation is not None else None

    def _created_without_backward(self, loop: ast.AST, iterable: ast.expr) -> ast.stmt | None:
        """The statement that built the model, in this scope, when no backward() (nor
        any call that might run one) can have run between it and the loop."""
        statement = self.facts.enclosing_statement(loop)
        if statement is None:
            return None
        scope = self.facts.enclosing_scope(statement)
        infos = self.infos(scope)
        for owner in self.semantic.parameter_owners(iterable):
            created = self.facts.enclosing_statement(owner.site) if owner.site else None
            if (
                not isinstance(owner, ModuleObject)
                or created not in infos
                or not control.always_before(self.facts, created, statement)
            ):
                continue
            between = self.facts.statements_of(scope)[
                infos[created].order + 1 : infos[statement].order
            ]
            if not any(self._may_run_backward(info.node) for info in between):
                return created
        return None

    def _may_run_backward(self, stmt: ast.stmt) -> bool:
        for node in flow.own_nodes(stmt):
            if not isinstance(node, ast.Call):
                continue
            if flow.is_backward_call(node):
                return True
            qualified = self.facts.qualify(node.func) or ""
            if qualified.startswith("torch.") or self.facts.is_module_call(node):
                continue
            if flow.method_name(node) in _MODEL_HOUSEKEEPING:
                continue
            if isinstance(node.func, ast.Name) and node.func.id in _BUILTINS_WITHOUT_BACKWARD:
                continue
            return True
        return False

    def _checked_in_loop(self, loop: ast.For | ast.AsyncFor, use: GradUse) -> bool:
        """The loop body backs the use with a backward(), a `.grad` assignment, or a
        `requires_grad` test before it (all: stay silent)."""
        if _requires_grad_tested(loop, use.owner) or self._asserted_before(loop, use):
            return True
        for stmt in loop.body:
            if stmt is use.statement or _contains(stmt, use.statement):
                break
            for node in flow.walk_local(stmt):
                if isinstance(node, ast.Call) and flow.is_backward_call(node):
                    return True
                if isinstance(node, ast.stmt) and any(
                    flow.dotted_name(t) == f"{use.owner}.grad" for t in flow.assigned_targets(node)
                ):
                    return True
        return False

    def _asserted_before(self, node: ast.AST, use: GradUse) -> bool:
        """An earlier ``assert`` / ``self.assert...(...)`` in the scope checks the grads
        against None (``assert all(p.grad is not None for p in ...)``): trust it."""
        statement = self.facts.enclosing_statement(node)
        scope = self.facts.enclosing_scope(use.statement)
        info = self.infos(scope).get(statement) if statement is not None else None
        if info is None:
            return False
        for earlier in self.facts.statements_of(scope)[: info.order]:
            stmt = earlier.node
            is_assert = isinstance(stmt, ast.Assert) or (
                isinstance(stmt, ast.Expr)
                and isinstance(stmt.value, ast.Call)
                and (flow.method_name(stmt.value) or "").startswith("assert")
            )
            if is_assert and any(
                none_guards.guarded_name(n.left) == f"{use.owner}.grad"
                for n in flow.walk_local(stmt)
                if isinstance(n, ast.Compare)
            ):
                return True
        return False

    # -- straight-line state ------------------------------------------------------

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
        creations = self.context.optimizers.bound_to(receiver)
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


# -- small predicates ----------------------------------------------------------------


def _ancestors_in_scope(
    node: ast.AST, parents: dict[ast.AST, ast.AST]
) -> Iterator[tuple[ast.AST, ast.AST]]:
    child, parent = node, parents.get(node)
    while parent is not None and not isinstance(parent, flow.SCOPE_TYPES):
        yield child, parent
        child, parent = parent, parents.get(parent)


def _requires_grad_tested(node: ast.AST, owner: str) -> bool:
    """``p.requires_grad`` appears in the loop: frozen parameters are handled on purpose."""
    return any(
        isinstance(n, ast.Attribute)
        and n.attr == "requires_grad"
        and flow.dotted_name(n.value) == owner
        for n in flow.walk_local(node)
    )


def _contains(outer: ast.AST, inner: ast.AST) -> bool:
    return any(node is inner for node in flow.walk_local(outer))


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


# -- messages and fixes -----------------------------------------------------------------


def _message(use: GradUse, reason: Reason, context: RuleContext) -> str:
    error = f"AttributeError: 'NoneType' object has no attribute '{use.attribute}'"
    grad = f"`{use.owner}.grad`"
    line = context.source.span_of(reason.event).start.line + 1 if reason.event else 0
    if reason.state is State.PARAMETER_LOOP:
        return (
            f"{grad} is None for every parameter that got no gradient (not used in the loss, "
            f"or frozen), so this raises {error}"
        )
    if reason.state is State.ZEROED:
        return (
            f"`{reason.receiver}.zero_grad()` on line {line} sets {grad} to None (its default is "
            f"set_to_none=True), so this raises {error}"
        )
    if reason.state is State.SET_NONE:
        return f"{grad} is set to None on line {line}, so this raises {error}"
    if reason.state is State.NO_REQUIRES:
        return f"`{use.owner}` does not require grad, so {grad} stays None and this raises {error}"
    return f"{grad} is None until a backward() reaches `{use.owner}`, so this raises {error}"


def _related(context: RuleContext, reason: Reason) -> tuple[RelatedLocation, ...]:
    if reason.event is None:
        return ()
    if reason.state is State.PARAMETER_LOOP:
        return (RelatedLocation(context.source.span_of(reason.event), reason.detail),)
    text = {
        State.ZEROED: "gradients set to None here",
        State.SET_NONE: "`.grad` set to None here",
        State.NO_REQUIRES: "created without requires_grad=True here",
        State.FRESH: "created here; no backward() since",
    }.get(reason.state, "")
    return (RelatedLocation(context.source.span_of(reason.event), text),) if text else ()


def _fixes(context: RuleContext, use: GradUse) -> tuple[Fix, ...]:
    grad = f"{use.owner}.grad"
    fixes = []
    wrap = edits.wrap_in_if(context.source, use.statement, f"{grad} is not None")
    if wrap is not None:
        fixes.append(Fix(f"Wrap in `if {grad} is not None:`", FixSafety.SAFE, (wrap,)))
    if _is_zeroing(use):
        fixes.append(
            Fix(
                f"Replace with `{grad} = None`",
                FixSafety.SAFE,
                (context.source.replace(use.statement, f"{grad} = None"),),
            )
        )
    return tuple(fixes)


def _is_zeroing(use: GradUse) -> bool:
    """The statement is exactly ``x.grad.zero_()`` or ``x.grad.data.zero_()``."""
    stmt = use.statement
    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
        return False
    call = stmt.value
    if call.args or call.keywords or flow.method_name(call) != "zero_":
        return False
    receiver = call.func.value  # type: ignore[attr-defined]
    if isinstance(receiver, ast.Attribute) and receiver.attr == "data":
        receiver = receiver.value
    return receiver is use.grad


RULE = Rule(
    code="GG301",
    name="grad-may-be-none",
    summary="`.grad` is used where it can be None",
    severity=Severity.WARNING,
    fix_availability=FixAvailability.SOMETIMES,
    doc=__doc__ or "",
    check_function=check,
    example_outcome=Raises("AttributeError", "'NoneType' object has no attribute 'zero_'"),
    use_instead_check=(
        "assert model.aux_head.weight.grad is None\n"
        "assert float(model.head.weight.grad.abs().sum()) == 0.0\n"
    ),
    # Every finding is about a `.grad` read (`x . grad` too).
    required_text=r"\.[\s\\]*grad",
    required_words=("grad",),
    required_text_shortcuts=(".grad",),
)
