"""``filter(lambda p: p.requires_grad, model.parameters())`` (or the same comprehension)
right after every parameter of that model was frozen: it yields nothing."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradguard.analysis import flow
from gradguard.analysis.names import bound_chains, chains_overlap, loaded_chains
from gradguard.analysis.optimizers import OptimizerCreation
from gradguard.findings import Finding, Severity
from gradguard.rules.gg101.base import EMPTY_LIST, Checker
from gradguard.semantic import control
from gradguard.semantic.objects import UNKNOWN

# Calls on a frozen model between the freeze and the filter that cannot unfreeze it.
_HARMLESS_MODEL_METHODS = frozenset(
    {
        "eval",
        "train",
        "to",
        "cuda",
        "cpu",
        "double",
        "float",
        "half",
        "bfloat16",
        "zero_grad",
        "parameters",
        "named_parameters",
        "state_dict",
        "modules",
        "children",
    }
)


def check(checker: Checker, creation: OptimizerCreation) -> Iterator[Finding]:
    if creation.params is None:
        return
    frozen_at = _frozen_at(checker, checker.argument_value(creation.params), creation)
    if frozen_at is not None:
        yield checker.finding(
            creation.call,
            f"Every parameter was frozen at line {frozen_at.lineno}, so the "
            f"`requires_grad` filter yields nothing and `{checker.name_of(creation)}` raises "
            f"`{EMPTY_LIST}`",
            Severity.ERROR,
        )


def _frozen_at(checker: Checker, expr: ast.expr, creation: OptimizerCreation) -> ast.stmt | None:
    """The statement that froze every parameter of the filtered model, if the file
    shows that nothing unfroze it before the optimizer was built."""
    model = _filtered_model(checker, expr)
    if model is None:
        return None
    target = creation.statement
    for info in reversed(checker.facts.statements_of(creation.scope)[: target.order]):
        if _freezes_everything(checker, info.node, model):
            return info.node if control.dominates(checker.facts, info.node, target.node) else None
        if _may_unfreeze(checker, info.node, flow.dotted_name(model) or ""):
            return None
    return None


def _same_model(checker: Checker, a: ast.expr, b: ast.expr) -> bool:
    """``a`` and ``b`` hold the same model objects (or are one name the model does not
    know: then only the same text counts)."""
    value = checker.kinds.value(a)
    if not value or value != checker.kinds.value(b):
        return False
    return UNKNOWN not in value or flow.dotted_name(a) == flow.dotted_name(b) is not None


def _filtered_model(checker: Checker, expr: ast.expr) -> ast.expr | None:
    """``model`` for ``filter(lambda p: p.requires_grad, model.parameters())`` and
    ``[p for p in model.parameters() if p.requires_grad]`` (also inside ``list(...)``)."""
    expr = checker.inside_list_call(expr)
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
        if expr.func.id != "filter" or len(expr.args) != 2:
            return None
        if not checker.kinds.is_builtin("filter"):
            return None
        test, source = expr.args
        if not (
            isinstance(test, ast.Lambda)
            and len(test.args.args) == 1
            and _is_requires_grad_of(test.body, test.args.args[0].arg)
        ):
            return None
        return _parameters_receiver(source)
    if isinstance(expr, (ast.ListComp, ast.GeneratorExp)) and len(expr.generators) == 1:
        generator = expr.generators[0]
        if not isinstance(generator.target, ast.Name) or len(generator.ifs) != 1:
            return None
        variable = generator.target.id
        if not (
            isinstance(expr.elt, ast.Name)
            and expr.elt.id == variable
            and _is_requires_grad_of(generator.ifs[0], variable)
        ):
            return None
        return _parameters_receiver(generator.iter)
    return None


def _parameters_receiver(
    expr: ast.expr, methods: tuple[str, ...] = ("parameters",)
) -> ast.expr | None:
    if isinstance(expr, ast.Call) and flow.method_name(expr) in methods:
        return expr.func.value  # type: ignore[attr-defined]
    return None


def _freezes_everything(checker: Checker, stmt: ast.stmt, model: ast.expr) -> bool:
    """``model.requires_grad_(False)`` or a loop over ``model.parameters()`` (or
    ``named_parameters()``) whose whole body freezes the loop variable."""
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        call = stmt.value
        if flow.method_name(call) != "requires_grad_":
            return False
        arguments = [*call.args, *(k.value for k in call.keywords)]
        return (
            len(arguments) == 1
            and _is_false(arguments[0])
            and _same_model(checker, call.func.value, model)  # type: ignore[attr-defined]
        )
    if not isinstance(stmt, ast.For) or stmt.orelse:
        return False
    receiver = _parameters_receiver(stmt.iter, ("parameters", "named_parameters"))
    if receiver is None or not _same_model(checker, receiver, model):
        return False
    target = stmt.target
    if flow.method_name(stmt.iter) == "named_parameters":  # type: ignore[arg-type]
        if not (isinstance(target, ast.Tuple) and len(target.elts) == 2):
            return False
        target = target.elts[1]
    if not isinstance(target, ast.Name):
        return False
    return all(_freezes_variable(body, target.id) for body in stmt.body)


def _may_unfreeze(checker: Checker, stmt: ast.stmt, owner: str) -> bool:
    """Conservative: anything that may turn grad back on, rebind the model, or hand it
    to a call that may change it."""
    if any(chains_overlap(owner, chain) for chain in bound_chains(stmt)):
        return True
    for node in flow.own_nodes(stmt):
        if isinstance(node, ast.Attribute) and node.attr == "requires_grad":
            parent = checker.facts.parents.get(node)
            is_target = isinstance(parent, ast.Assign) and node in parent.targets
            if is_target and not _is_false(parent.value):  # type: ignore[union-attr]
                return True
        if isinstance(node, ast.Call):
            if flow.method_name(node) == "requires_grad_":
                arguments = [*node.args, *(k.value for k in node.keywords)]
                if not (len(arguments) == 1 and _is_false(arguments[0])):
                    return True
                continue
            if _call_touches(node, owner):
                return True
    return False


def _call_touches(call: ast.Call, owner: str) -> bool:
    """The model is passed to a call, or a method that may change it is called."""
    arguments = [*call.args, *(k.value for k in call.keywords)]
    for argument in arguments:
        for chain in loaded_chains(argument):
            harmless = chain.rsplit(".", 1)[-1] in _HARMLESS_MODEL_METHODS
            if chains_overlap(owner, chain) and not harmless:
                return True
    if isinstance(call.func, ast.Attribute):
        receiver = flow.dotted_name(call.func.value) or ""
        if receiver and chains_overlap(owner, receiver):
            return call.func.attr not in _HARMLESS_MODEL_METHODS
    return False


def _is_requires_grad_of(expr: ast.expr, variable: str) -> bool:
    return (
        isinstance(expr, ast.Attribute)
        and expr.attr == "requires_grad"
        and isinstance(expr.value, ast.Name)
        and expr.value.id == variable
    )


def _is_false(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Constant) and expr.value is False


def _freezes_variable(stmt: ast.stmt, variable: str) -> bool:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        return _is_requires_grad_of(stmt.targets[0], variable) and _is_false(stmt.value)
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        call = stmt.value
        return (
            flow.method_name(call) == "requires_grad_"
            and flow.dotted_name(call.func.value) == variable  # type: ignore[attr-defined]
            and len(call.args) == 1
            and _is_false(call.args[0])
        )
    return False
