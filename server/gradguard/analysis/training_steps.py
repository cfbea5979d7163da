"""Gradient events of training iterations: ``backward()``, optimizer ``step()``, clearing.

Used by the training-loop order rules (GG401, GG402). A *region* is one training
iteration: the body of the innermost loop around an optimizer step whose body also
runs a ``backward()``, or, when there is no such loop, the whole function (the
"one function per training step" style) or module.

Events are listed in source order; each carries whether it surely runs whenever the
statement that holds it is reached (``definite``): events under ``if``/``match``,
exception handlers, ``else`` blocks, inner loops (which may run zero times) and the
lazy parts of expressions (``a if c else b``, ``x and y``) are not definite. ``with``
blocks and ``try``/``finally`` bodies are transparent.

Optimizer steps are ``<opt>.step()`` on a name the file binds to an optimizer
construction, ``scaler.step(<opt>)``, and, when the file cannot tell what a name is,
``.step()`` on names spelled like optimizers (``optimizer``, ``opt``, ``optim``,
``opt_g``, ``g_optimizer``, ``optimizerD``...). ``scheduler.step()`` and
``optimizer.step(closure)`` (the closure runs its own backward) are not counted.
"""

from __future__ import annotations

import ast
import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

from gradguard.analysis import flow
from gradguard.analysis.edits import containing_block
from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.optimizers import OptimizerIndex
from gradguard.analysis.resolution import SymbolKind

BACKWARD_METHODS = frozenset({"backward", "manual_backward"})
# How deep same-file helpers are followed (a helper calling a helper...).
_HELPER_DEPTH = 4

_OPTIMIZER_SPELLING = re.compile(
    r"^(opt|optim|optimizer|optimiser)(_\w+|\d+|[A-Z]\w*)?$"
    r"|^\w+_(opt|optim|optimizer|optimiser)$"
    r"|^(optimizer|optimiser)\w*$"
)
_NOT_AN_OPTIMIZER_SPELLING = re.compile(r"sched|scaler|lr_|warmup|options", re.IGNORECASE)


class EventKind(str, enum.Enum):
    BACKWARD = "backward"
    STEP = "step"
    CLEAR = "clear"
    # A helper that could not be followed (recursion, depth): anything may happen there.
    OPAQUE = "opaque"


@dataclass(frozen=True, eq=False)
class GradEvent:
    kind: EventKind
    # The call (or the clearing ``for`` loop) that performs the event.
    node: ast.AST
    # The statement of the analysed scope that holds the event: for an event inside a
    # same-file helper, the statement that calls the helper.
    statement: ast.stmt
    # STEP: the optimizer's dotted name. CLEAR: what ``zero_grad()`` is called on, or the
    # module whose parameters a ``p.grad = None`` loop walks; None when unknown.
    target: str | None = None
    # CLEAR: True for ``<optimizer>.zero_grad()``, False for modules and manual loops.
    on_optimizer: bool = False
    # CLEAR: the gradients become None (default) rather than zero tensors.
    set_to_none: bool = True
    # The event surely runs whenever its statement runs.
    definite: bool = True
    # The event happens inside a same-file helper called by ``statement``.
    via_helper: bool = False


@dataclass(frozen=True)
class Occurrence:
    """An event met while walking back from a point, in reverse execution order."""

    event: GradEvent
    definite: bool
    # Found in the previous iteration (after the starting point in the loop body).
    wrapped: bool


def spelled_like_optimizer(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return bool(_OPTIMIZER_SPELLING.match(last)) and not _NOT_AN_OPTIMIZER_SPELLING.search(last)


def _position(node: ast.AST) -> tuple[int, int]:
    return (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))


def training_steps(facts: ModuleFacts, optimizers: OptimizerIndex) -> TrainingSteps:
    """The file's analysis, shared by every rule that asks for it."""
    return facts.shared(TrainingSteps, lambda: TrainingSteps(facts, optimizers))


class TrainingSteps:
    def __init__(self, facts: ModuleFacts, optimizers: OptimizerIndex) -> None:
        self.facts = facts
        self.optimizers = optimizers
        self._optimizer_names: dict[str, bool] = {}
        self._subtree_events: dict[ast.stmt, list[GradEvent]] = {}
        self._helper_events: dict[ast.AST, list[GradEvent] | None] = {}
        self._expanding: set[ast.AST] = set()
        self._bindings: dict[str, list[ast.expr]] | None = None
        self._call_sites: dict[ast.AST, list[ast.Call]] | None = None
        self._steps: list[tuple[GradEvent, ast.AST]] | None = None

    # -- the steps of the file --------------------------------------------------

    def steps(self) -> list[tuple[GradEvent, ast.AST]]:
        """Every direct optimizer step of the file with its scope, in source order."""
        if self._steps is None:
            found: list[tuple[GradEvent, ast.AST]] = []
            # One cheap pass for `.step(` calls; events are only built around them.
            calls = [
                n
                for n in self.facts.nodes_of(ast.Call)
                if flow.method_name(n) == "step"  # type: ignore[arg-type]
            ]
            for call in sorted(calls, key=_position):
                statement = self.facts.enclosing_statement(call)
                if statement is None:
                    continue
                for event in self.own_events(statement):
                    if event.kind is EventKind.STEP and event.node is call:
                        found.append((event, self.facts.enclosing_scope(statement)))
            self._steps = found
        return self._steps

    # -- what a name is --------------------------------------------------------

    def is_optimizer_name(self, name: str) -> bool:
        if name not in self._optimizer_names:
            self._optimizer_names[name] = self._decide_optimizer_name(name)
        return self._optimizer_names[name]

    def _decide_optimizer_name(self, name: str) -> bool:
        if self.optimizers.bound_to(name):
            return True
        for value in self._assignments().get(name, []):
            if isinstance(value, ast.Call) and self._is_known_non_optimizer(value):
                return False
        return spelled_like_optimizer(name)

    def _is_known_non_optimizer(self, call: ast.Call) -> bool:
        """A call the file knows returns something else (a scheduler, a scaler, a model)."""
        kind = self.facts.callee_kind(call.func)
        if kind is not None:
            return kind is not SymbolKind.OPTIMIZER_CLASS
        qualified = self.facts.qualify(call.func) or ""
        return qualified.startswith("torch.")

    def _assignments(self) -> dict[str, list[ast.expr]]:
        if self._bindings is None:
            bindings: dict[str, list[ast.expr]] = {}
            for node in self.facts.nodes_of_types(ast.Assign, ast.AnnAssign):
                if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                    for target in flow.assigned_targets(node):
                        name = flow.dotted_name(target)
                        if name:
                            bindings.setdefault(name, []).append(node.value)
            self._bindings = bindings
        return self._bindings

    def step_target(self, call: ast.Call) -> str | None:
        """The optimizer a ``.step(...)`` call steps, or None when it is not an optimizer step."""
        if flow.method_name(call) != "step" or not isinstance(call.func, ast.Attribute):
            return None
        receiver = flow.dotted_name(call.func.value)
        if call.args or call.keywords:
            # scaler.step(optimizer); optimizer.step(closure) is left alone.
            if (
                len(call.args) == 1
                and not call.keywords
                and not (receiver and self.is_optimizer_name(receiver))
            ):
                argument = flow.dotted_name(call.args[0])
                if argument and self.is_optimizer_name(argument):
                    return argument
            return None
        if receiver and self.is_optimizer_name(receiver):
            return receiver
        return None

    # -- same-file helpers -----------------------------------------------------

    def helper_of(self, call: ast.Call) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The same-file function a call runs: ``helper(...)`` or ``self.method(...)``."""
        func = call.func
        if isinstance(func, ast.Name):
            return self.facts.functions.get(func.id)
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "self"
        ):
            for parent in self.facts.ancestors(call):
                if isinstance(parent, ast.ClassDef):
                    for stmt in parent.body:
                        if (
                            isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef))
                            and stmt.name == func.attr
                        ):
                            return stmt
                    return None
        return None

    def call_sites(self, function: ast.AST) -> list[ast.Call]:
        """Calls anywhere in the file that run ``function`` (as resolved by helper_of)."""
        if self._call_sites is None:
            sites: dict[ast.AST, list[ast.Call]] = {}
            for node in self.facts.nodes_of(ast.Call):
                if isinstance(node, ast.Call):
                    helper = self.helper_of(node)
                    if helper is not None:
                        sites.setdefault(helper, []).append(node)
            self._call_sites = sites
        return self._call_sites.get(function, [])

    def _helper_body_events(self, function: ast.AST) -> list[GradEvent] | None:
        """Events of a helper's body (relative to it), or None when it cannot be followed."""
        if function in self._helper_events:
            return self._helper_events[function]
        if function in self._expanding or len(self._expanding) >= _HELPER_DEPTH:
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
    ) -> list[GradEvent]:
        function = self.helper_of(call)
        if function is None or not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return []
        inner = self._helper_body_events(function)
        if inner is None:
            return [GradEvent(EventKind.OPAQUE, call, statement, definite=False)]
        arguments = _argument_map(function, call)
        return [
            replace(
                event,
                node=call,
                statement=statement,
                target=_map_target(event.target, arguments, function),
                definite=event.definite and definite,
                via_helper=True,
            )
            for event in inner
        ]

    # -- events ----------------------------------------------------------------

    def subtree_events(self, stmt: ast.stmt) -> list[GradEvent]:
        """Events of ``stmt`` and its nested blocks in source order, ``definite``
        relative to reaching ``stmt``."""
        cached = self._subtree_events.get(stmt)
        if cached is not None:
            return cached
        events = self._compute_subtree_events(stmt)
        if not self._expanding:  # results inside a helper expansion depend on the depth
            self._subtree_events[stmt] = events
        return events

    def _compute_subtree_events(self, stmt: ast.stmt) -> list[GradEvent]:
        if isinstance(stmt, flow.SCOPE_TYPES):
            return []
        clearing_loop = self._clearing_loop_target(stmt)
        if clearing_loop is not None:
            return [
                GradEvent(
                    EventKind.CLEAR,
                    stmt,
                    stmt,
                    target=clearing_loop or None,
                    set_to_none=_sets_grad_to_none(stmt),
                )
            ]
        events = self.own_events(stmt)
        for block, transparent in _child_blocks(stmt):
            for child in block:
                for event in self.subtree_events(child):
                    events.append(event if transparent else replace(event, definite=False))
        return events

    def own_events(self, stmt: ast.stmt) -> list[GradEvent]:
        """Events of the statement itself (headers only for compound statements)."""
        events: list[GradEvent] = []
        calls = sorted((n for n in flow.own_nodes(stmt) if isinstance(n, ast.Call)), key=_position)
        for call in calls:
            definite = _evaluated_unconditionally(call, stmt, self.facts.parents)
            events.extend(self._call_events(call, stmt, definite))
        if _stores_grad(stmt):
            events.append(GradEvent(EventKind.CLEAR, stmt, stmt, target=None))
        return events

    def _call_events(self, call: ast.Call, stmt: ast.stmt, definite: bool) -> list[GradEvent]:
        method = flow.method_name(call)
        if method in BACKWARD_METHODS:
            return [GradEvent(EventKind.BACKWARD, call, stmt, definite=definite)]
        if method == "step":
            target = self.step_target(call)
            if target is not None:
                return [GradEvent(EventKind.STEP, call, stmt, target=target, definite=definite)]
            return []
        if method == "zero_grad" and isinstance(call.func, ast.Attribute):
            receiver = flow.dotted_name(call.func.value)
            return [
                GradEvent(
                    EventKind.CLEAR,
                    call,
                    stmt,
                    target=receiver,
                    on_optimizer=bool(receiver and self.is_optimizer_name(receiver)),
                    set_to_none=_set_to_none(call),
                    definite=definite,
                )
            ]
        if _looks_like_clearing_call(call):
            return [GradEvent(EventKind.CLEAR, call, stmt, target=None, definite=definite)]
        return self._expand_helper(call, stmt, definite)

    def _clearing_loop_target(self, stmt: ast.stmt) -> str | None:
        """For ``for p in model.parameters(): p.grad = None`` (or ``.zero_()``): ``model``;
        ``""`` for such a loop over something else; None when ``stmt`` is not one."""
        if not isinstance(stmt, (ast.For, ast.AsyncFor)) or not isinstance(stmt.target, ast.Name):
            return None
        variable = stmt.target.id
        if not any(
            _clears_grad_of(node, variable) for s in stmt.body for node in flow.walk_local(s)
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

    # -- regions ---------------------------------------------------------------

    def has_backward(self, stmt: ast.stmt) -> bool:
        return any(e.kind is EventKind.BACKWARD for e in self.subtree_events(stmt))

    def iteration_loop(self, stmt: ast.stmt) -> ast.For | ast.AsyncFor | ast.While | None:
        """The innermost loop around ``stmt`` (same scope) whose body runs a backward."""
        for parent in self.facts.ancestors(stmt):
            if isinstance(parent, flow.SCOPE_TYPES):
                return None
            if isinstance(parent, flow.LOOP_TYPES) and self.has_backward(parent):
                return parent
        return None

    def region_events(self, region: ast.AST) -> list[GradEvent]:
        """Events of a loop's or a function's body, definite relative to the body's start."""
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

    # -- loose clearing (GG402) ---------------------------------------------------

    def clears_anywhere(self, nodes: list[ast.stmt]) -> bool:
        """Anything in ``nodes`` (or the same-file helpers they call) that may clear
        gradients: any ``zero_grad`` reference, ``.grad`` stores, deletions or in-place
        calls, ``set_to_none``, functions named like gradient clearing."""
        seen: set[ast.AST] = set()
        pending: list[ast.AST] = list(nodes)
        depth = 0
        while pending and depth <= _HELPER_DEPTH:
            helpers: list[ast.AST] = []
            for root in pending:
                for node in flow.walk_local(root):
                    if _may_clear(node):
                        return True
                    if isinstance(node, ast.Call):
                        helper = self.helper_of(node)
                        if helper is not None and helper not in seen:
                            seen.add(helper)
                            helpers.extend(helper.body)
            pending, depth = helpers, depth + 1
        return False


# -- helpers -------------------------------------------------------------------


def _body_of(region: ast.AST) -> list[ast.stmt]:
    body = getattr(region, "body", [])
    return body if isinstance(body, list) else []


def _child_blocks(stmt: ast.stmt) -> Iterator[tuple[list[ast.stmt], bool]]:
    """Nested blocks with whether reaching ``stmt`` surely runs them."""
    for block in flow.child_blocks(stmt):
        yield block, _block_is_transparent(stmt, block)


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


def _set_to_none(call: ast.Call) -> bool:
    """``zero_grad(set_to_none=False)`` / ``zero_grad(False)`` keep zero tensors."""
    values = [k.value for k in call.keywords if k.arg == "set_to_none"] + call.args[:1]
    return not any(isinstance(v, ast.Constant) and v.value is False for v in values)


def _is_grad_attribute(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "grad"


def _grad_owner(node: ast.AST) -> ast.AST | None:
    """``p`` for ``p.grad`` and ``p.grad.data``."""
    if isinstance(node, ast.Attribute) and node.attr == "data":
        node = node.value
    return node.value if _is_grad_attribute(node) else None  # type: ignore[attr-defined]


def _stores_grad(stmt: ast.stmt) -> bool:
    """``x.grad = ...`` or ``del x.grad`` as a statement (outside a clearing loop)."""
    if isinstance(stmt, ast.Delete):
        return any(_is_grad_attribute(t) for t in stmt.targets)
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
        return any(_is_grad_attribute(t) for t in flow.assigned_targets(stmt))
    return False


def _sets_grad_to_none(loop: ast.stmt) -> bool:
    """A clearing loop that leaves ``None`` (``p.grad = None``, ``del p.grad``)."""
    for node in flow.walk_local(loop):
        if isinstance(node, ast.Delete) and any(_is_grad_attribute(t) for t in node.targets):
            return True
        if (
            isinstance(node, ast.Assign)
            and any(_is_grad_attribute(t) for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and node.value.value is None
        ):
            return True
    return False


def _clears_grad_of(node: ast.AST, variable: str) -> bool:
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
        owner = _grad_owner(target)
        if isinstance(owner, ast.Name) and owner.id == variable:
            return True
    return False


def _looks_like_clearing_call(call: ast.Call) -> bool:
    """``zero_grads(model)``, ``torch._foreach_zero_(grads)``, ``set_grads_to_none(...)``."""
    name = (flow.dotted_name(call.func) or "").rsplit(".", 1)[-1].lower()
    return "zero" in name and ("grad" in name or name.startswith("_foreach"))


def may_clear(node: ast.AST) -> bool:
    """The node may clear gradients (what :meth:`TrainingSteps.clears_anywhere` looks for)."""
    return _may_clear(node)


def _may_clear(node: ast.AST) -> bool:
    if isinstance(node, ast.Attribute) and node.attr == "zero_grad":
        return True
    if isinstance(node, ast.keyword) and node.arg == "set_to_none":
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Delete)):
        targets = node.targets if isinstance(node, ast.Delete) else flow.assigned_targets(node)
        return any(_is_grad_attribute(t) for t in targets)
    if isinstance(node, ast.Call):
        if _looks_like_clearing_call(node):
            return True
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr.endswith("_"):
            return _grad_owner(func.value) is not None
        if isinstance(func, ast.Name) and func.id == "setattr" and len(node.args) >= 2:
            name = node.args[1]
            return isinstance(name, ast.Constant) and name.value == "grad"
    return False


def _argument_map(
    function: ast.FunctionDef | ast.AsyncFunctionDef, call: ast.Call
) -> dict[str, str | None]:
    """Helper parameter -> the dotted name passed for it (None when not a plain name)."""
    arguments = function.args
    names = [a.arg for a in arguments.posonlyargs + arguments.args]
    if names and names[0] == "self" and isinstance(call.func, ast.Attribute):
        names = names[1:]
    mapping: dict[str, str | None] = {name: None for name in names}
    mapping.update({a.arg: None for a in arguments.kwonlyargs})
    for name, value in zip(names, call.args, strict=False):
        if isinstance(value, ast.Starred):
            break
        mapping[name] = flow.dotted_name(value)
    for keyword in call.keywords:
        if keyword.arg in mapping:
            mapping[keyword.arg] = flow.dotted_name(keyword.value)
    return mapping


def _map_target(
    target: str | None,
    arguments: dict[str, str | None],
    function: ast.FunctionDef | ast.AsyncFunctionDef,
) -> str | None:
    """Rewrite a helper's name in the caller's terms (``opt`` -> ``optimizer``)."""
    if target is None:
        return None
    root, _, rest = target.partition(".")
    if root in arguments:
        mapped = arguments[root]
        if mapped is None:
            return None
        return f"{mapped}.{rest}" if rest else mapped
    if function.args.vararg and root == function.args.vararg.arg:
        return None
    return target


# -- small questions the fixes ask -------------------------------------------------


def starts_its_line(source_line: str, stmt: ast.stmt) -> bool:
    """The statement is the first thing on its line (no ``a; b`` or ``for x in y: b``)."""
    prefix = source_line.encode("utf-8", "surrogatepass")[: stmt.col_offset]
    return not prefix.strip()


def binds_name(nodes: list[ast.stmt], name: str) -> bool:
    """Whether any of ``nodes`` (re)binds ``name`` (assignment, loop target, ``with as``,
    walrus, import, ``del``)."""
    for root in nodes:
        for node in flow.walk_local(root):
            if (
                isinstance(node, ast.Name)
                and node.id == name
                and not isinstance(node.ctx, ast.Load)
            ):
                return True
            if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                (alias.asname or alias.name).split(".")[0] == name for alias in node.names
            ):
                return True
    return False


def describe(source_text: str, fallback: str) -> str:
    """Short code for messages: the call's text when it fits on one line."""
    text = source_text.strip()
    if text and "\n" not in text and len(text) <= 60:
        return f"`{text}`"
    return fallback
