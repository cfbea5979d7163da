"""Where optimizers are created, and from which models' parameters."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar, cast

from gradguard.analysis import flow
from gradguard.analysis.demand import Probe, reported_if
from gradguard.analysis.facts import ModuleFacts

_PARAMETER_METHODS = ("parameters", "named_parameters")
_Found = TypeVar("_Found")


@dataclass(frozen=True, eq=False)
class OptimizerCreation:
    call: ast.Call
    statement: flow.StatementInfo
    scope: flow.Scope
    # Dotted name the optimizer is bound to (``optimizer``, ``self.opt``), if any.
    target: str | None
    # The expression passed as ``params`` (first positional or ``params=``), if any.
    params: ast.expr | None
    # Dotted names of the modules whose parameters it holds (``model``, ``model.fc``).
    models: frozenset[str]


def params_argument(call: ast.Call) -> ast.expr | None:
    if call.args and not isinstance(call.args[0], ast.Starred):
        return call.args[0]
    for keyword in call.keywords:
        if keyword.arg == "params":
            return keyword.value
    return None


def parameter_owner(call: ast.Call) -> str | None:
    """``model.fc`` for ``model.fc.parameters()`` / ``named_parameters()``."""
    if isinstance(call.func, ast.Attribute) and call.func.attr in _PARAMETER_METHODS:
        return flow.dotted_name(call.func.value)
    return None


def models_in(expr: ast.AST, bindings: dict[str, ast.expr] | None = None) -> set[str]:
    """Dotted names of modules whose parameters ``expr`` draws from.

    ``bindings`` maps local names to the expressions they were assigned, so that
    ``params = model.parameters(); SGD(params)`` is followed one step.
    """
    owners: set[str] = set()
    for node in flow.walk_local(expr):
        if isinstance(node, ast.Call):
            owner = parameter_owner(node)
            if owner:
                owners.add(owner)
        elif isinstance(node, ast.Name) and bindings and node.id in bindings:
            bound = bindings[node.id]
            if bound is not expr:
                owners |= models_in(bound)
    return owners


class OptimizerIndex:
    """Every optimizer construction in a file.

    Whether a call of a class from another file builds an optimizer is jedi's to say;
    it is asked only about the constructions a rule needs (:meth:`creations_where`,
    :meth:`findings_of_each`, :meth:`bound_to`): ``Mlp(dim, hidden)`` is never asked
    about unless a rule would report something were it an optimizer."""

    def __init__(self, facts: ModuleFacts) -> None:
        self.facts = facts

    @cached_property
    def possible_calls(self) -> frozenset[ast.Call]:
        """The calls that build an optimizer or may (jedi not asked yet)."""
        calls = cast(list[ast.Call], self.facts.nodes_of(ast.Call))
        return frozenset(filter(self.facts.may_build_optimizer, calls))

    @cached_property
    def optimizer_calls(self) -> frozenset[ast.Call]:
        """Every call of an optimizer class in the file (lambdas and classes included)."""
        return frozenset(c for c in self.possible_calls if self.facts.is_optimizer_call(c))

    @cached_property
    def candidates(self) -> list[OptimizerCreation]:
        """What :attr:`creations` would hold if every possible call built an optimizer."""
        # Find the calls from the node index first: most files have none, and then no
        # scope needs its statements listed.
        calls = self.possible_calls
        if not calls:
            return []
        scopes = {self.facts.enclosing_scope(call) for call in calls}
        found: list[OptimizerCreation] = []
        for scope, statements in self.facts.scope_statements.items():
            if scope not in scopes:
                continue
            for info in statements:
                for node in flow.own_nodes(info.node):
                    if node in calls:
                        bindings = self._reaching_values(node, info)  # type: ignore[arg-type]
                        found.append(self._creation(node, info, scope, bindings))  # type: ignore[arg-type]
        return found

    @cached_property
    def creations(self) -> list[OptimizerCreation]:
        """Every construction, in statement order (asks about every possible call)."""
        return self.creations_where(lambda _: True)

    def creations_where(
        self,
        needed: Callable[[OptimizerCreation], bool],
        probe: Probe[OptimizerCreation, Any] | None = None,
    ) -> list[OptimizerCreation]:
        """``[c for c in creations if needed(c)]``, asking whether a call builds an
        optimizer only where ``needed`` holds. ``probe``: ``needed`` with jedi muted
        (its findings non-empty when it holds: analysis.demand.Probe)."""
        return [c for c in self.candidates if self._wanted(c, needed, probe)]

    def _wanted(
        self,
        creation: OptimizerCreation,
        needed: Callable[[OptimizerCreation], bool],
        probe: Probe[OptimizerCreation, Any] | None,
    ) -> bool:
        if probe is not None and probe.active:
            probed = probe.findings(creation)
            if probed is not None:
                return bool(probed) and self._builds_optimizer(creation)
            if probe.holds_is_cheaper(creation):
                return self._builds_optimizer(creation) and needed(creation)
        return needed(creation) and self._builds_optimizer(creation)

    def findings_of_each(
        self,
        check: Callable[[OptimizerCreation], Iterable[_Found]],
        known: Iterable[OptimizerCreation] = (),
        probe: Probe[OptimizerCreation, _Found] | None = None,
    ) -> Iterator[_Found]:
        """``for c in creations: yield from check(c)``, asking whether a call builds an
        optimizer only where ``check`` finds something. ``check`` must depend on nothing
        but its creation and the file (no state kept from one creation to the next).
        ``known``: creations already known to build one (another module's helper), checked
        after the file's own. ``probe``: the same check with jedi muted, for a check that
        evaluates values (analysis.demand.Probe)."""
        for candidate in self.candidates:
            yield from reported_if(candidate, check, self._builds_optimizer, probe)
        for creation in known:
            yield from check(creation)

    def _builds_optimizer(self, creation: OptimizerCreation) -> bool:
        return self.facts.is_optimizer_call(creation.call)

    def probe(
        self, check_in: Callable[[ModuleFacts], Callable[[OptimizerCreation], Iterable[_Found]]]
    ) -> Probe[OptimizerCreation, _Found]:
        """A probe for :meth:`findings_of_each` of a check built by ``check_in(facts)``."""
        return Probe(self.facts, check_in, lambda facts: OptimizerIndex(facts)._builds_optimizer)

    def _reaching_values(self, call: ast.Call, info: flow.StatementInfo) -> dict[str, ast.expr]:
        """``name -> value`` for the names the params argument reads that have exactly one
        assignment reaching the creation (``params = a.parameters()`` rebound later to
        ``b.parameters()`` still gives ``a`` here)."""
        from gradguard.semantic.model import SemanticModel  # the model builds on this module

        params = params_argument(call)
        if params is None:
            return {}
        semantic = SemanticModel.of(self.facts)
        values: dict[str, ast.expr] = {}
        for node in flow.walk_local(params):
            if isinstance(node, ast.Name) and node.id not in values:
                reaching = semantic.reaching(node.id, info.node)
                if len(reaching) == 1 and reaching[0].kind == "assign" and reaching[0].value:
                    values[node.id] = reaching[0].value
        return values

    def _creation(
        self,
        call: ast.Call,
        info: flow.StatementInfo,
        scope: flow.Scope,
        bindings: dict[str, ast.expr],
    ) -> OptimizerCreation:
        target = None
        if isinstance(info.node, (ast.Assign, ast.AnnAssign)) and info.node.value is call:
            targets = flow.assigned_targets(info.node)
            if len(targets) == 1:
                target = flow.dotted_name(targets[0])
        params = params_argument(call)
        models = frozenset(models_in(params, bindings)) if params is not None else frozenset()
        return OptimizerCreation(call, info, scope, target, params, models)

    def bound_to(self, name: str) -> list[OptimizerCreation]:
        return self.creations_where(lambda c: c.target == name)


def is_optimizer_name(facts: ModuleFacts, index: OptimizerIndex, name: str) -> bool:
    """True when ``name`` is bound to an optimizer somewhere in the file."""
    return bool(index.bound_to(name))
