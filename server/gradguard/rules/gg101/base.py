"""What GG101's checks share: the rule, the file, the kinds the model proves, messages."""

from __future__ import annotations

import ast

from gradguard.analysis import flow
from gradguard.analysis.optimizers import OptimizerCreation
from gradguard.findings import Finding, Fix, Severity
from gradguard.rules.base import Rule, RuleContext
from gradguard.semantic.kinds import Kinds
from gradguard.semantic.model import SemanticModel

EMPTY_LIST = "ValueError: optimizer got an empty parameter list"
NOT_ITERABLE = "TypeError: params argument given to the optimizer should be an iterable"
ONLY_TENSORS_STR = "TypeError: optimizer can only optimize Tensors, but one of the params is str"
NON_LEAF = "ValueError: can't optimize a non-leaf Tensor"


class Checker:
    def __init__(self, rule: Rule, context: RuleContext) -> None:
        self.rule = rule
        self.context = context
        self.facts = context.facts
        self.source = context.source
        self.kinds = Kinds.of(context.facts)
        self.model: SemanticModel = self.kinds.model

    def finding(
        self, where: ast.AST, message: str, severity: Severity, fixes: tuple[Fix, ...] = ()
    ) -> Finding:
        return self.rule.finding(self.context, where, message, severity=severity, fixes=fixes)

    def name_of(self, creation: OptimizerCreation) -> str:
        return flow.dotted_name(creation.call.func) or "the optimizer"

    def argument_value(self, params: ast.expr) -> ast.expr:
        """``params`` itself, or the sole value a name given as ``params`` was assigned."""
        if isinstance(params, ast.Name):
            return self.kinds.sole_value(params) or params
        return params

    def inside_list_call(self, expr: ast.expr) -> ast.expr:
        """``x`` for the builtin ``list(x)`` / ``tuple(x)``; otherwise ``expr`` itself."""
        if (
            isinstance(expr, ast.Call)
            and isinstance(expr.func, ast.Name)
            and expr.func.id in ("list", "tuple")
            and len(expr.args) == 1
            and self.kinds.is_builtin(expr.func.id)
        ):
            return expr.args[0]
        return expr
