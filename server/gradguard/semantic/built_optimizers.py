"""Optimizers built by a function of another workspace module: ``optimizer =
make_optimizer(model)`` with ``make_optimizer`` in ``utils.py`` returning
``torch.optim.SGD(model.parameters())``.

The summary (:mod:`gradguard.semantic.workspace`) says which parameter's parameters the
returned optimizer holds; here a call bound to a name becomes an
:class:`~gradguard.analysis.optimizers.OptimizerCreation` in the caller's terms, for the
rules that follow an optimizer's timeline against its models (GG102, GG105). Its
``params`` is None: the caller's file cannot show the expression.
"""

from __future__ import annotations

import ast
from typing import cast

from gradguard.analysis import flow
from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.optimizers import OptimizerCreation, models_in, params_argument
from gradguard.semantic.bindings import ScopeBindings
from gradguard.semantic.model import SemanticModel


def returned_optimizers(
    facts: ModuleFacts, function: ast.FunctionDef | ast.AsyncFunctionDef, parameters: set[str]
) -> list[tuple[str, str, int]]:
    """``(parameter, suffix, line)`` per model part whose parameters an optimizer that
    ``function`` returns is built from (directly, or through the one assignment of a name
    that reaches the ``return``), while that parameter still holds what the caller passed."""
    bindings = SemanticModel.of(facts).bindings(function)
    found: list[tuple[str, str, int]] = []
    for node in flow.walk_local(function):
        if not isinstance(node, ast.Return) or node.value is None:
            continue
        value, at = node.value, cast(ast.stmt, node)
        if isinstance(value, ast.Name):
            value, at = _sole_assignment(bindings, value.id, node) or (value, node)
        if not isinstance(value, ast.Call) or not facts.is_optimizer_call(value):
            continue
        params = params_argument(value)
        if params is None:
            continue
        followed = {
            name.id: assigned
            for name in flow.walk_local(params)
            if isinstance(name, ast.Name)
            and (assigned := _sole_assignment(bindings, name.id, at)) is not None
        }
        for owner in sorted(models_in(params, {k: v for k, (v, _) in followed.items()})):
            root = owner.split(".")[0].split("[")[0]
            reaching = bindings.reaching(root, at)
            if root in parameters and reaching and all(d.kind == "parameter" for d in reaching):
                found.append((root, owner[len(root) :], value.lineno))
    return found


def _sole_assignment(
    bindings: ScopeBindings, name: str, at: ast.stmt
) -> tuple[ast.expr, ast.stmt] | None:
    """The value and statement of the one plain assignment of ``name`` reaching ``at``."""
    reaching = bindings.reaching(name, at)
    if len(reaching) != 1 or reaching[0].kind != "assign":
        return None
    definition = reaching[0]
    if definition.value is None or definition.statement is None:
        return None
    return definition.value, definition.statement


def helper_creations(facts: ModuleFacts) -> list[OptimizerCreation]:
    """``optimizer = make_optimizer(model)`` where a same-file function or method
    (``self.optimizer = model.configure_optimizers()``), or another workspace module's
    function, returns an optimizer over its argument's (or receiver's) parameters, in the
    caller's names. Only names that say "opt" (``optimizer``, ``opt_g``, ``self.optim``)
    are looked at."""
    from gradguard.semantic.workspace import argument_names, foreign_call

    workspace = getattr(facts.resolver, "workspace_function", None) is not None

    def build() -> list[OptimizerCreation]:
        found = []
        for node in cast(list[ast.Assign], facts.nodes_of(ast.Assign)):
            if len(node.targets) != 1 or not isinstance(node.value, ast.Call):
                continue
            target = flow.dotted_name(node.targets[0])
            if workspace and target and isinstance(node.targets[0], ast.Name):
                found += constructed_optimizers(facts, node, target)
            if not target or "opt" not in target.rsplit(".", 1)[-1].lower():
                continue  # a cost gate: reading every module each assignment calls into
                # cost 40% more analysis time on real code (detectron2, timm)
            same_file = returned_by_same_file(facts, node, target)
            if same_file is not None or not workspace:
                found += [same_file] if same_file is not None else []
                continue
            foreign = foreign_call(facts, node.value)
            if foreign is None or not foreign.summary.optimizers:
                continue
            passed = argument_names(node.value, foreign.summary)
            models = frozenset(
                passed[built.parameter] + built.suffix
                for built in foreign.summary.optimizers
                if built.parameter in passed
            )
            info = facts.statement_info(node)
            if models and info is not None:
                scope = facts.enclosing_scope(node)
                found.append(OptimizerCreation(node.value, info, scope, target, None, models))
        return found

    return facts.shared(helper_creations, build)


def constructed_optimizers(
    facts: ModuleFacts, node: ast.Assign, target: str
) -> list[OptimizerCreation]:
    """``trainer = Trainer(model)`` where the other module's ``Trainer.__init__`` builds
    ``self.optimizer`` over ``model``'s parameters: a creation of ``trainer.optimizer``
    over ``model`` (and ``trainer.model``, the field holding it)."""
    from gradguard.semantic.workspace import ClassSummary, argument_names
    from gradguard.semantic.workspace_classes import constructed_class, drives

    if not drives(facts, node, target):
        return []
    assert isinstance(node.value, ast.Call)
    foreign = constructed_class(facts, node.value)
    if foreign is None or not isinstance(foreign.summary, ClassSummary):
        return []
    summary = foreign.summary
    passed = argument_names(node.value, summary)
    info = facts.statement_info(node)
    found = []
    for field, built in summary.optimizer_fields.items():
        # The model passed by name (``Trainer(model)``), and the field that keeps it
        # (``trainer.model``, also for ``Trainer(resnet18())``).
        models = {passed[built.parameter] + built.suffix} if built.parameter in passed else set()
        models |= {
            f"{target}.{kept}{built.suffix}"
            for kept, parameter in summary.fields.items()
            if parameter == built.parameter
        }
        if not models or info is None:
            continue
        scope = facts.enclosing_scope(node)
        found.append(
            OptimizerCreation(node.value, info, scope, f"{target}.{field}", None, frozenset(models))
        )
    return found


def returned_by_same_file(
    facts: ModuleFacts, node: ast.Assign, target: str
) -> OptimizerCreation | None:
    """``self.optimizer = model.configure_optimizers()`` where the method returns
    ``Adagrad(self.parameters())``: a creation over ``model``. The method is the one the
    model says the receiver's class has, or, when it cannot say, the file's only method
    of that name."""
    call = node.value
    assert isinstance(call, ast.Call)
    if facts.is_optimizer_call(call):
        return None  # an optimizer construction: the index has it
    function, receiver = _same_file_callee(facts, call)
    if function is None:
        return None
    positional = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
    passed: dict[str, str] = {}
    if receiver is not None and positional:
        passed[positional.pop(0)] = flow.dotted_name(receiver) or ""
    for name, argument in zip(positional, call.args, strict=False):
        passed[name] = flow.dotted_name(argument) or ""
    for keyword in call.keywords:
        if keyword.arg:
            passed[keyword.arg] = flow.dotted_name(keyword.value) or ""
    models = frozenset(
        passed[parameter] + suffix
        for parameter, suffix, _ in returned_optimizers(facts, function, set(passed))
        if passed.get(parameter)
    )
    info = facts.statement_info(node)
    if not models or info is None:
        return None
    return OptimizerCreation(call, info, facts.enclosing_scope(node), target, None, models)


def _same_file_callee(
    facts: ModuleFacts, call: ast.Call
) -> tuple[ast.FunctionDef | ast.AsyncFunctionDef | None, ast.expr | None]:
    from gradguard.semantic.model import SemanticModel
    from gradguard.semantic.objects import UNKNOWN

    func = call.func
    if isinstance(func, ast.Name):
        return facts.functions.get(func.id), None
    if not isinstance(func, ast.Attribute):
        return None, None
    semantic = SemanticModel.of(facts)
    receivers = semantic.value_of(func.value)
    methods = {semantic.evaluator.heap.method(obj, func.attr) for obj in receivers - {UNKNOWN}}
    if receivers - {UNKNOWN}:
        known = methods.pop() if len(methods) == 1 else None
        return known, func.value
    named = [
        info.methods[func.attr] for info in facts.classes.values() if func.attr in info.methods
    ]
    return (named[0] if len(named) == 1 else None), func.value
