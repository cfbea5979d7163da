"""Training-step events per iteration, in order, with the conditions they run under.

A *region* is one training iteration: the body of the innermost loop around an event
whose body also runs a ``backward()`` (or steps an optimizer, for the scheduler), or,
when there is no such loop, the whole function (the "one function per training step"
style) or module. Events (:mod:`gradguard.semantic.step_events`) are listed in source
order and follow same-file helpers the region calls (``train_one_epoch(model, loader,
optimizer, scheduler, scaler)``, ``self.validate()``), with the helper's names
rewritten in the caller's terms.

Each event says whether it surely runs whenever the statement that holds it is reached
(``definite``), and through which blocks (``guards``: ``if``/``else`` with their test,
inner loops, handlers, cases, the lazy parts of ``a if c else b``/``x and y``) and
``with`` contexts (``contexts``: ``accelerator.accumulate(model)``, ``autocast()``).
``with`` blocks and ``try``/``finally`` bodies are transparent.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, replace

from gradguard.analysis import flow
from gradguard.analysis.edits import containing_block
from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.optimizers import OptimizerIndex
from gradguard.semantic import step_events
from gradguard.semantic.roles import Roles, roles
from gradguard.semantic.step_calls import HelperCalls
from gradguard.semantic.step_events import EventKind, Guard, StepEvent


@dataclass(frozen=True)
class Occurrence:
    """An event met while walking back from a point, in reverse execution order."""

    event: StepEvent
    definite: bool
    # Found in the previous iteration (after the starting point in the loop body).
    wrapped: bool


def _position(node: ast.AST) -> tuple[int, int]:
    return (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))


def training_steps(facts: ModuleFacts, optimizers: OptimizerIndex) -> TrainingSteps:
    """The file's analysis, shared by every rule that asks for it."""
    return facts.shared(TrainingSteps, lambda: TrainingSteps(facts, optimizers))


class TrainingSteps:
    def __init__(self, facts: ModuleFacts, optimizers: OptimizerIndex) -> None:
        self.facts = facts
        self.optimizers = optimizers
        self.roles: Roles = roles(facts, optimizers)
        self.helpers = HelperCalls(facts)
        self._subtree_events: dict[ast.stmt, list[StepEvent]] = {}
        self._helper_events: dict[ast.AST, list[StepEvent] | None] = {}
        self._expanding: set[ast.AST] = set()
        self._steps: list[tuple[StepEvent, ast.AST]] | None = None
        self._by_method: dict[str, list[tuple[StepEvent, ast.AST]]] = {}
        self._loop_kinds: dict[ast.stmt, frozenset[EventKind]] = {}

    def is_optimizer_name(self, name: str) -> bool:
        return self.roles.is_optimizer(name)

    def helper_of(self, call: ast.Call) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        return self.helpers.helper_of(call)

    def call_sites(self, function: ast.AST) -> list[ast.Call]:
        return self.helpers.call_sites(function)

    # -- the events of the file -----------------------------------------------------

    def steps(self) -> list[tuple[StepEvent, ast.AST]]:
        """Every direct optimizer step of the file with its scope, in source order."""
        if self._steps is None:
            self._steps = [
                (e, s) for e, s in self.direct_events("step") if e.kind is EventKind.STEP
            ]
        return self._steps

    def direct_events(self, method: str) -> list[tuple[StepEvent, ast.AST]]:
        """The events of the file's own ``.<method>(`` calls (not through helpers) with
        their scope, in source order: one cheap pass over the calls."""
        if method not in self._by_method:
            found: list[tuple[StepEvent, ast.AST]] = []
            # A file that never spells the name calls nothing by it: no index needed.
            named = self.facts.calls_named.get(method, ()) if self.facts.mentions(method) else ()
            for call in sorted(named, key=_position):
                statement = self.facts.enclosing_statement(call)
                if statement is None:
                    continue
                for event in self.own_events(statement):
                    if event.node is call:
                        found.append((event, self.facts.enclosing_scope(statement)))
            self._by_method[method] = found
        return self._by_method[method]

    # -- same-file helpers -----------------------------------------------------------

    def _helper_body_events(self, function: ast.AST) -> list[StepEvent] | None:
        """Events of a helper's body (relative to it), or None when it cannot be followed."""
        if function in self._helper_events:
            return self._helper_events[function]
        if function in self._expanding or len(self._expanding) >= self.helpers.depth:
            return None
        self._expanding.add(function)
        try:
            events = [
                e for stmt in getattr(function, "body", []) for e in self.subtree_events(stmt)
            ]
        finally:
            self._expanding.discard(function)
        self._helper_events[function] = events
        return events

    def _expand_helper(
        self, call: ast.Call, statement: ast.stmt, definite: bool
    ) -> list[StepEvent]:
        function = self.helper_of(call)
        if function is None:
            return []
        inner = self._helper_body_events(function)
        lazy = () if definite else (Guard(call, "lazy"),)
        if inner is None:
            return [StepEvent(EventKind.OPAQUE, call, statement, definite=False, guards=lazy)]
        arguments = self.helpers.argument_map(function, call)
        return [
            replace(
                event,
                node=call,
                statement=statement,
                target=self.helpers.map_name(event.target, arguments, function),
                scaler=self.helpers.map_name(event.scaler, arguments, function),
                definite=event.definite and definite,
                via_helper=True,
                guards=lazy + event.guards,
            )
            for event in inner
        ]

    # -- events ----------------------------------------------------------------------

    def subtree_events(self, stmt: ast.stmt) -> list[StepEvent]:
        """Events of ``stmt`` and its nested blocks in source order, ``definite`` and
        ``guards`` relative to reaching ``stmt``."""
        cached = self._subtree_events.get(stmt)
        if cached is not None:
            return cached
        events = self._compute_subtree_events(stmt)
        if not self._expanding:  # results inside a helper expansion depend on the depth
            self._subtree_events[stmt] = events
        return events

    def _compute_subtree_events(self, stmt: ast.stmt) -> list[StepEvent]:
        if isinstance(stmt, flow.SCOPE_TYPES):
            return []
        clearing_loop = self._clearing_loop_target(stmt)
        if clearing_loop is not None:
            return [
                StepEvent(
                    EventKind.CLEAR,
                    stmt,
                    stmt,
                    target=clearing_loop or None,
                    set_to_none=step_events.sets_grad_to_none(stmt),
                    origin=stmt,
                )
            ]
        events = self.own_events(stmt)
        contexts: tuple[ast.expr, ...] = ()
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            contexts = tuple(item.context_expr for item in stmt.items)
        for block, guard in _child_blocks(stmt):
            for child in block:
                for event in self.subtree_events(child):
                    if guard is not None:
                        event = replace(event, definite=False, guards=(guard, *event.guards))
                    if contexts:
                        event = replace(event, contexts=contexts + event.contexts)
                    events.append(event)
        return events

    def own_events(self, stmt: ast.stmt) -> list[StepEvent]:
        """Events of the statement itself (headers only for compound statements)."""
        events: list[StepEvent] = []
        calls = sorted((n for n in flow.own_nodes(stmt) if isinstance(n, ast.Call)), key=_position)
        for call in calls:
            definite = _evaluated_unconditionally(call, stmt, self.facts.parents)
            events.extend(self._call_events(call, stmt, definite))
        if step_events.stores_grad(stmt):
            events.append(StepEvent(EventKind.CLEAR, stmt, stmt, origin=stmt))
        return events

    def _call_events(self, call: ast.Call, stmt: ast.stmt, definite: bool) -> list[StepEvent]:
        method = flow.method_name(call)
        if method in ("train", "eval") and self.helper_of(call) is not None:
            return self._expand_helper(call, stmt, definite)  # a trainer's own train()
        event = step_events.call_event(self.roles, call, stmt, definite)
        if event is not None:
            if not definite:
                event = replace(event, guards=(Guard(call, "lazy"),))
            return [event]
        if method in ("step", "zero_grad"):
            return []
        return self._expand_helper(call, stmt, definite)

    def _clearing_loop_target(self, stmt: ast.stmt) -> str | None:
        """For ``for p in model.parameters(): p.grad = None`` (or ``.zero_()``): ``model``;
        ``""`` for such a loop over something else; None when ``stmt`` is not one."""
        if not isinstance(stmt, (ast.For, ast.AsyncFor)) or not isinstance(stmt.target, ast.Name):
            return None
        variable = stmt.target.id
        if not any(
            step_events.clears_grad_of(node, variable)
            for s in stmt.body
            for node in flow.walk_local(s)
        ):
            return None
        iterable = stmt.iter
        if (
            isinstance(iterable, ast.Call)
            and flow.method_name(iterable) == "parameters"
            and isinstance(iterable.func, ast.Attribute)
        ):
            return flow.dotted_name(iterable.func.value) or ""
        return ""

    # -- regions ---------------------------------------------------------------------

    def has_backward(self, stmt: ast.stmt) -> bool:
        return any(e.kind is EventKind.BACKWARD for e in self.subtree_events(stmt))

    def iteration_loop(
        self, stmt: ast.stmt, *, kind: EventKind = EventKind.BACKWARD
    ) -> ast.For | ast.AsyncFor | ast.While | None:
        """The innermost loop around ``stmt`` (same scope) whose body runs an event of
        ``kind`` (a backward by default)."""
        for parent in self.facts.ancestors(stmt):
            if isinstance(parent, flow.SCOPE_TYPES):
                return None
            if isinstance(parent, flow.LOOP_TYPES) and kind in self._kinds_in(parent):
                return parent
        return None

    def _kinds_in(self, loop: ast.stmt) -> frozenset[EventKind]:
        kinds = self._loop_kinds.get(loop)
        if kinds is None:
            kinds = self._loop_kinds[loop] = frozenset(e.kind for e in self.subtree_events(loop))
        return kinds

    def region_of(self, event: StepEvent, scope: ast.AST) -> ast.AST:
        """The iteration of an event: its innermost backward loop, else its scope."""
        return self.iteration_loop(event.statement) or scope

    def region_events(self, region: ast.AST) -> list[StepEvent]:
        """Events of a loop's or a function's body, relative to the body's start."""
        return [e for stmt in _body_of(region) for e in self.subtree_events(stmt)]

    def walk_back(self, start: ast.stmt, region: ast.AST) -> Iterator[Occurrence]:
        """Events that run before ``start`` in its iteration, nearest first; for a loop
        region, then the previous iteration's events after ``start`` (``wrapped``)."""
        current: ast.AST = start
        while True:
            block = self.block_of(current)
            if block is None:
                return
            index = next((i for i, s in enumerate(block) if s is current), 0)
            for previous in reversed(block[:index]):
                for event in reversed(self.subtree_events(previous)):
                    yield Occurrence(event, event.definite, False)
            owner = self._owner_statement(current)
            if owner is None or owner is region or isinstance(owner, flow.SCOPE_TYPES):
                break
            current = owner
        if isinstance(region, flow.LOOP_TYPES):
            yield from self._previous_iteration(start, region)

    def _previous_iteration(self, start: ast.stmt, loop: ast.stmt) -> Iterator[Occurrence]:
        # A `continue` may skip the end of the previous iteration.
        skips = any(
            isinstance(node, ast.Continue)
            for stmt in _body_of(loop)
            for node in _walk_same_loop(stmt)
        )
        later = [e for e in self.region_events(loop) if _position(e.statement) > _position(start)]
        for event in reversed(later):
            yield Occurrence(event, event.definite and not skips, True)

    def block_of(self, stmt: ast.AST) -> list[ast.stmt] | None:
        return containing_block(self.facts.parents, stmt)  # type: ignore[arg-type]

    def _owner_statement(self, stmt: ast.AST) -> ast.AST | None:
        """The compound statement whose block holds ``stmt`` (through handlers and cases)."""
        parent = self.facts.parents.get(stmt)
        if isinstance(parent, (ast.ExceptHandler, ast.match_case)):
            parent = self.facts.parents.get(parent)
        return parent

    def guards_to(self, stmt: ast.stmt, region: ast.AST) -> tuple[Guard, ...]:
        """The blocks between ``region``'s body and ``stmt``, outermost first."""
        found: list[Guard] = []
        child: ast.AST = stmt
        for parent in self.facts.ancestors(stmt):
            if parent is region or isinstance(parent, flow.SCOPE_TYPES):
                break
            if isinstance(parent, (ast.ExceptHandler, ast.match_case)):
                child = parent
                continue
            guard = _guard_for(parent, child)
            if guard is not None:
                found.append(guard)
            child = parent
        return tuple(reversed(found))

    def path_is_unconditional(self, stmt: ast.stmt, region: ast.AST, *, loops_ok: bool) -> bool:
        """Whether reaching ``region``'s body surely reaches ``stmt`` (inner loops count as
        reached when ``loops_ok``)."""
        child: ast.AST = stmt
        for parent in self.facts.ancestors(stmt):
            if parent is region:
                return True
            if isinstance(parent, flow.SCOPE_TYPES):
                return False
            if isinstance(parent, (ast.ExceptHandler, ast.match_case)):
                return False
            if not _is_transparent(parent, child, loops_ok=loops_ok):
                return False
            child = parent
        return isinstance(region, ast.Module)

    def clears_anywhere(self, nodes: list[ast.stmt]) -> bool:
        """Anything in ``nodes`` (or the same-file helpers they call) that may clear
        gradients (:func:`step_events.may_clear`)."""
        return self.helpers.any_node(nodes, step_events.may_clear)


# -- blocks ------------------------------------------------------------------------


def _body_of(region: ast.AST) -> list[ast.stmt]:
    body = getattr(region, "body", [])
    return body if isinstance(body, list) else []


def _child_blocks(stmt: ast.stmt) -> Iterator[tuple[list[ast.stmt], Guard | None]]:
    """Nested blocks with the guard entering them adds (None: transparent)."""
    for block in flow.child_blocks(stmt):
        yield block, (None if _block_is_transparent(stmt, block) else _guard_of_block(stmt, block))


def _guard_of_block(stmt: ast.stmt, block: list[ast.stmt]) -> Guard:
    if isinstance(stmt, ast.If):
        return Guard(
            stmt, "body" if block is stmt.body else "orelse", stmt.test, block is stmt.body
        )
    if isinstance(stmt, flow.LOOP_TYPES):
        return Guard(stmt, "loop" if block is stmt.body else "orelse")
    if isinstance(stmt, ast.Match):
        return Guard(stmt, f"case {next(i for i, c in enumerate(stmt.cases) if c.body is block)}")
    if getattr(stmt, "orelse", None) is block:
        return Guard(stmt, "orelse")
    return Guard(stmt, "handler")


def _guard_for(parent: ast.AST, child: ast.AST) -> Guard | None:
    """The guard of the block of ``parent`` that holds ``child`` (None: transparent)."""
    for block in flow.child_blocks(parent):  # type: ignore[arg-type]
        if any(s is child for s in block) or any(
            isinstance(s, ast.ExceptHandler) and s is child for s in block
        ):
            if _block_is_transparent(parent, block):  # type: ignore[arg-type]
                return None
            return _guard_of_block(parent, block)  # type: ignore[arg-type]
    for handler in getattr(parent, "handlers", ()) or ():
        if handler is child:
            return Guard(parent, "handler")
    for index, case in enumerate(getattr(parent, "cases", ()) or ()):
        if case is child:
            return Guard(parent, f"case {index}")
    return None


def _block_is_transparent(stmt: ast.stmt, block: list[ast.stmt]) -> bool:
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        return True
    if isinstance(stmt, ast.Try) or (hasattr(ast, "TryStar") and isinstance(stmt, ast.TryStar)):
        return block is stmt.body or block is stmt.finalbody  # type: ignore[attr-defined]
    return False


def _is_transparent(parent: ast.AST, child: ast.AST, *, loops_ok: bool) -> bool:
    if isinstance(parent, (ast.With, ast.AsyncWith)):
        return True
    if isinstance(parent, ast.Try) or (hasattr(ast, "TryStar") and isinstance(parent, ast.TryStar)):
        return child in parent.body or child in parent.finalbody  # type: ignore[attr-defined]
    if isinstance(parent, flow.LOOP_TYPES):
        return loops_ok and child in parent.body
    return False


def _walk_same_loop(node: ast.AST) -> Iterator[ast.AST]:
    """Nodes of ``node`` without nested loops' bodies or nested scopes."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        for child in ast.iter_child_nodes(current):
            if not isinstance(child, flow.SCOPE_TYPES + flow.LOOP_TYPES):
                stack.append(child)


def _evaluated_unconditionally(call: ast.Call, stmt: ast.stmt, parents: dict) -> bool:
    """False for calls in the lazy parts of an expression (``b if c else d``, ``x and y``,
    comprehensions)."""
    child: ast.AST = call
    node = parents.get(call)
    while node is not None and node is not stmt:
        if isinstance(node, ast.IfExp) and child is not node.test:
            return False
        if isinstance(node, ast.BoolOp) and child is not node.values[0]:
            return False
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return False
        child, node = node, parents.get(node)
    return True
