"""Every value the file assigns to a name, read from the model's own tables: the
definitions of its bindings (a plain name, in every scope) and the heap's stores
(``self.scheduler = ...``, ``trainer.opt = ...``).

For the questions that are asked of a name wherever it is used (the step layer's roles:
is ``scaler`` a GradScaler anywhere the file assigns it; GG402: is ``netD`` only ever
built by a call). The lookup reads every assignment of the name, so it records that scan
for the editor: a new assignment anywhere re-checks the reader.
"""

from __future__ import annotations

import ast

from gradguard.analysis import flow
from gradguard.semantic.model import SemanticModel
from gradguard.semantic.reads import name_pattern


def assigned_values(model: SemanticModel, dotted: str) -> list[ast.expr]:
    """The right-hand sides of the ``=`` / annotated assignments of ``dotted`` (one per
    statement, the whole right-hand side of an unpacking), in the order ``ast.walk``
    meets them."""
    reads = model.evaluator.reads
    if reads is not None:
        reads.scan(name_pattern(dotted), word=dotted.rsplit(".", 1)[-1])
    table = model.facts.shared("assigned values", lambda: _AssignedValues(model))
    return table.of(dotted)


class _AssignedValues:
    def __init__(self, model: SemanticModel) -> None:
        self.model = model
        self._found: dict[str, list[ast.expr]] = {}

    def of(self, dotted: str) -> list[ast.expr]:
        if dotted not in self._found:
            statements = self._statements(dotted)
            ordered = self.model.facts.in_walk_order(list(dict.fromkeys(statements)))
            self._found[dotted] = [s.value for s in ordered if s.value is not None]  # type: ignore[attr-defined]
        return self._found[dotted]

    def _statements(self, dotted: str) -> list[ast.stmt]:
        if "." in dotted:
            attr = dotted.rsplit(".", 1)[-1]
            fields = self.model.evaluator.heap.stores.get(attr, ())
            return [s for target, s in fields if flow.dotted_name(target) == dotted]
        facts = self.model.facts
        stores = [n for n in facts.names_by_id.get(dotted, ()) if isinstance(n.ctx, ast.Store)]
        found: list[ast.stmt] = []
        for scope in facts.scopes_holding(stores):  # only the scopes that bind it
            for definition in self.model.bindings(scope).definitions.get(dotted, ()):
                statement = definition.statement
                if definition.kind == "assign" and isinstance(
                    statement, (ast.Assign, ast.AnnAssign)
                ):
                    found.append(statement)
        return found
