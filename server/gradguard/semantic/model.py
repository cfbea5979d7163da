"""The semantic model of one file: the queries rules and hovers ask.

``SemanticModel.of(facts)`` builds it once per file (shared by every rule through
``ModuleFacts.shared``); each part is computed on first use, for the scopes and names a
rule asks about, so a file no rule questions costs nothing.
"""

from __future__ import annotations

import ast
from functools import cached_property

from gradguard.analysis import flow
from gradguard.analysis.facts import ModuleFacts
from gradguard.semantic import control
from gradguard.semantic.bindings import Definition, ScopeBindings
from gradguard.semantic.constants import Constant
from gradguard.semantic.constants import describe as describe_constant
from gradguard.semantic.field_gaps import field_gap
from gradguard.semantic.gradients import Gap, Gradients
from gradguard.semantic.layer_flags import Absence
from gradguard.semantic.objects import (
    UNKNOWN,
    AbstractObject,
    ParameterIterable,
    Value,
    describe,
)
from gradguard.semantic.values import Evaluator


class SemanticModel:
    def __init__(self, facts: ModuleFacts) -> None:
        self.facts = facts
        self.evaluator = Evaluator(facts)

    @classmethod
    def of(cls, facts: ModuleFacts) -> SemanticModel:
        return facts.shared("semantic model", lambda: cls(facts))

    # -- what names hold ----------------------------------------------------------------

    def value_of(self, expr: ast.AST) -> Value:
        """What ``expr`` holds where it is evaluated."""
        return self.evaluator.value_of(expr)

    def value_at(self, name: str, statement: ast.stmt) -> Value:
        """What ``name`` holds when ``statement`` starts to run."""
        return self.evaluator.name_value(name, statement, self.facts.enclosing_scope(statement))

    def bindings(self, scope: flow.Scope) -> ScopeBindings:
        return self.evaluator.bindings(scope)

    def reaching(self, name: str, statement: ast.stmt) -> list[Definition]:
        return self.bindings(self.facts.enclosing_scope(statement)).reaching(name, statement)

    def still_bound(self, target: str, definition: ast.stmt, at: ast.stmt) -> bool:
        """The binding of ``target`` (a name or ``self.opt``) made by ``definition`` may
        still be what it holds when ``at`` runs: no later binding of the same scope
        replaces it on every path in between."""
        if "." not in target:
            return any(d.statement is definition for d in self.reaching(target, at))
        facts = self.facts
        order = {info.node: info.order for info in facts.statements_of(facts.enclosing_scope(at))}
        if definition not in order or at not in order:
            return True
        return not any(
            order[definition] < position < order[at]
            and flow.assigns_name(statement, target)
            and control.dominates(facts, statement, at)
            and control.dominates(facts, definition, statement)
            for statement, position in order.items()
        )

    def describe_at(self, name: str, line: int) -> str:
        """``Module(Net)``, ``Parameters(Layer(torch.nn.Linear))``...: what ``name``
        holds at the first statement starting on 1-based ``line`` (tests, hovers)."""
        return describe(self.value_at(name, self._statement_on(line)))

    def _statement_on(self, line: int) -> ast.stmt:
        statement = next(
            (
                info.node
                for scope in self.facts.scopes
                for info in self.facts.statements_of(scope)
                if info.node.lineno == line
            ),
            None,
        )
        if statement is None:
            raise ValueError(f"no statement starts on line {line}")
        return statement

    # -- constants and configuration ----------------------------------------------------

    def constant_of(self, expr: ast.AST) -> Constant:
        """The literals (and library callables) ``expr`` may hold, as the file shows."""
        return self.evaluator.layers.constants.value_of(expr)

    def constant_at(self, name: str, line: int) -> str:
        """``False | True``, ``partial(torch.nn.BatchNorm2d, affine=False)``: what
        ``name`` holds at the statement starting on ``line``, as a constant (tests)."""
        statement = self._statement_on(line)
        constants = self.evaluator.layers.constants
        definitions = self.reaching(name, statement)
        if not definitions:
            definitions = self.bindings(self.facts.tree).definitions.get(name, [])
        values = [constants.definition(d) for d in definitions]
        return describe_constant(frozenset().union(*values))

    def absence(self, obj: AbstractObject, parameter: str) -> Absence | None:
        """Why layer ``obj``'s ``weight``/``bias`` can be None (a flag the file makes
        False), or None."""
        return self.evaluator.layers.absence(obj, parameter)

    def absence_at(self, obj: AbstractObject, parameter: str, use: ast.AST) -> Absence | None:
        """Why layer ``obj``'s ``parameter`` can be None where ``use`` runs, or None."""
        return self.evaluator.layers.absence_at(obj, parameter, use)

    def every_absence(self, parameter: str) -> list[Absence]:
        """Every layer the file builds whose ``parameter`` can be None."""
        return self.evaluator.layers.every_absence(parameter)

    def reassigned(self, obj: AbstractObject, parameter: str) -> bool:
        return self.evaluator.layers.reassigned(obj, parameter)

    @property
    def read(self) -> set[ast.AST]:
        """What the constant and layer queries read so far: definitions, stores, calls,
        dict literals (their nodes)."""
        return self.evaluator.layers.constants.read

    @property
    def scans(self) -> set[str]:
        """The whole-file scans those queries made: an edit whose text matches one of
        these patterns may change their answers."""
        return self.evaluator.layers.constants.scans

    # -- gradients ----------------------------------------------------------------------

    @cached_property
    def gradients(self) -> Gradients:
        return Gradients(self.facts, self.evaluator)

    def parameter_gap(self, iterable: ast.expr) -> Gap | None:
        """Why a parameter of what ``iterable`` holds (``model.parameters()``, a list of
        several models' parameters) may have no gradient after a backward, or None."""
        return self.gap_of_parameters(self.value_of(iterable))

    def gap_of_parameters(self, value: Value) -> Gap | None:
        """``parameter_gap`` for a value already evaluated (``ParameterIterable``s)."""
        for obj in value:
            if isinstance(obj, ParameterIterable) and len(obj.owners - {UNKNOWN}) > 1:
                return Gap("one list holds the parameters of several models", obj.site)  # type: ignore[arg-type]
        owners = frozenset(o for i in value if isinstance(i, ParameterIterable) for o in i.owners)
        if all(isinstance(i, ParameterIterable) and i.trainable for i in value):
            return self.gradients.gap_of(owners, freezes=False)  # frozen ones filtered out
        return self.gradients.gap_of(owners) or self.gradients.freeze_gap(owners)

    def parameter_owners(self, iterable: ast.expr) -> Value:
        """The modules whose parameters ``iterable`` holds (empty: not parameters)."""
        value = self.value_of(iterable)
        return frozenset(o for i in value if isinstance(i, ParameterIterable) for o in i.owners)

    def field_gap(self, expr: ast.expr) -> Gap | None:
        """Why ``expr`` (``op.alpha``: a parameter a same-file module class stores in
        a field) may have no gradient after a backward through its module, or None."""
        return field_gap(self.facts, self.evaluator, self.gradients, expr)
