"""The fix for ``SGD([], ...)`` followed by ``opt.add_param_group({'params': X})``:
build the optimizer from ``X`` below the statement that creates the model and drop the
``add_param_group`` call (unsafe: it reorders statements)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradguard.analysis import edits, flow
from gradguard.analysis.names import any_overlap, bound_chains, chains_overlap, loaded_chains
from gradguard.analysis.optimizers import OptimizerCreation
from gradguard.findings import Fix, FixSafety, TextEdit
from gradguard.rules.gg101.base import Checker


def fixes(checker: Checker, creation: OptimizerCreation) -> Iterator[Fix]:
    if creation.target is None:
        return
    statements = checker.facts.statements_of(creation.scope)
    later = statements[creation.statement.order + 1 :]
    adds = [
        (info, call)
        for info in later
        for call in flow.calls_in(info.node)
        if flow.method_name(call) == "add_param_group"
        and flow.dotted_name(call.func.value) == creation.target  # type: ignore[attr-defined]
    ]
    if len(adds) != 1:
        return
    add_info, add_call = adds[0]
    fix = _AddParamGroupMove(checker, creation, add_info, add_call).build()
    if fix is not None:
        yield fix


class _AddParamGroupMove:
    """Build ``opt = SGD(X, ...)`` below the model's creation and drop
    ``opt.add_param_group({'params': X})``; None when that cannot be made correct."""

    def __init__(
        self,
        checker: Checker,
        creation: OptimizerCreation,
        add_info: flow.StatementInfo,
        add_call: ast.Call,
    ) -> None:
        self.checker = checker
        self.source = checker.source
        self.creation = creation
        self.add_info = add_info
        self.add_call = add_call
        self.statements = checker.facts.statements_of(creation.scope)

    def build(self) -> Fix | None:
        group = self.group_argument()
        add_stmt = self.add_info.node
        creation_stmt = self.creation.statement
        if group is None or not (
            isinstance(add_stmt, ast.Expr) and add_stmt.value is self.add_call
        ):
            return None
        params_text = self.params_text(group)
        if params_text is None or not edits.owns_its_lines(self.source, add_stmt):
            return None
        model_info = self.model_statement(group)
        if model_info is None:
            return None
        replace_params = self.source.replace(self.creation.params, params_text)  # type: ignore[arg-type]
        remove_add = edits.owned_removal_edit(self.source, add_stmt, self.add_info.block)
        if model_info.order < creation_stmt.order:
            return self.fix("Pass the parameters to the optimizer", (replace_params, remove_add))
        return self.moved_fix(model_info, group, remove_add)

    def group_argument(self) -> ast.Dict | None:
        call = self.add_call
        if len(call.args) == 1 and not call.keywords and isinstance(call.args[0], ast.Dict):
            group = call.args[0]
            if None not in group.keys and any(
                isinstance(k, ast.Constant) and k.value == "params" for k in group.keys
            ):
                return group
        return None

    def params_text(self, group: ast.Dict) -> str | None:
        if len(group.keys) == 1:
            return self.source.node_text(group.values[0])
        return f"[{self.source.node_text(group)}]"

    def model_statement(self, group: ast.Dict) -> flow.StatementInfo | None:
        """The last statement before ``add_param_group`` that binds a name the group
        reads; it must share the optimizer creation's block."""
        reads = loaded_chains(group)
        found = None
        for info in self.statements[: self.add_info.order]:
            if any_overlap(reads, bound_chains(info.node)):
                found = info
        if found is None or found.block is not self.creation.statement.block:
            return None
        # Nothing after the model's creation may change what the group reads.
        for info in self.statements[found.order + 1 : self.add_info.order]:
            if any_overlap(reads, bound_chains(info.node)):
                return None
        return found

    def moved_fix(
        self, model_info: flow.StatementInfo, group: ast.Dict, remove_add: TextEdit
    ) -> Fix | None:
        creation_stmt = self.creation.statement
        node = creation_stmt.node
        if not edits.owns_its_lines(self.source, node):
            return None
        if not edits.owns_its_lines(self.source, model_info.node):
            return None
        between = self.statements[creation_stmt.order + 1 : model_info.order + 1]
        uses = {self.creation.target or ""} | loaded_chains(node)
        for info in between:
            if self.uses_any(info.node, uses):
                return None
        if any(info.order == self.add_info.order for info in between):
            return None
        moved = self.moved_text(node)
        if moved is None:
            return None
        insert = edits.insert_after_edit(self.source, model_info.node, moved)
        if insert is None:
            return None
        return self.fix(
            f"Create the optimizer below line {model_info.node.end_lineno} from the added "
            "parameters",
            (edits.owned_removal_edit(self.source, node, creation_stmt.block), insert, remove_add),
        )

    def uses_any(self, stmt: ast.stmt, chains: set[str]) -> bool:
        """The statement reads the optimizer or rebinds one of the creation's inputs."""
        target = self.creation.target or ""
        reads = loaded_chains(stmt) if not isinstance(stmt, flow.SCOPE_TYPES) else set()
        for part in flow.header_nodes(stmt):
            reads |= loaded_chains(part)
        if target and any(chains_overlap(target, r) for r in reads):
            return True
        return any_overlap(chains - {target}, bound_chains(stmt))

    def moved_text(self, node: ast.stmt) -> str | None:
        """The creation statement's lines with ``[]`` replaced by the group's parameters
        (it stays in its block, so its indentation is unchanged)."""
        params = self.creation.params
        group = self.group_argument()
        if params is None or group is None:
            return None
        text = self.params_text(group)
        if text is None:
            return None
        lines = self.source.statement_lines(node)
        start = self.source.offset(lines.start)
        params_span = self.source.span_of(params)
        before = self.source.text[start : self.source.offset(params_span.start)]
        after = self.source.text[
            self.source.offset(params_span.end) : self.source.offset(lines.end)
        ]
        moved = before + text + after
        if not moved.endswith(("\n", "\r")):
            moved += self.source.newline
        return moved

    def fix(self, title: str, edits_: tuple[TextEdit, ...]) -> Fix:
        return Fix(title, FixSafety.UNSAFE, edits_)
