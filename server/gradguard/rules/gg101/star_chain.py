"""``itertools.chain(*model.parameters(), w)``: the ``*`` hands ``chain`` each parameter
as an iterable of its own, so it yields their rows (views with a ``grad_fn``, non-leaves)
and the optimizer raises (measured on torch 2.13.0; ``chain.from_iterable(params)`` is
the same). The fix drops the ``*`` and wraps single tensors in a list."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradguard.analysis.optimizers import OptimizerCreation
from gradguard.findings import Finding, Fix, FixSafety, Severity, TextEdit
from gradguard.rules.gg101.base import NON_LEAF, Checker

_CHAIN = "itertools.chain"
_FROM_ITERABLE = "itertools.chain.from_iterable"


def check(checker: Checker, creation: OptimizerCreation) -> Iterator[Finding]:
    if creation.params is None:
        return
    chain = checker.inside_list_call(checker.argument_value(creation.params))
    if not isinstance(chain, ast.Call):
        return
    qualified = checker.facts.qualify(chain.func)
    unpacked = _unpacked_parameters(checker, chain, qualified)
    if unpacked is None:
        return
    text = checker.source.node_text(unpacked)
    yield checker.finding(
        creation.call,
        f"`{checker.name_of(creation)}` receives `{checker.source.node_text(chain)}`: "
        f"`chain` iterates each parameter of `{text}` on its own and yields its rows, "
        f"tensors computed from the parameters (non-leaves), so it raises `{NON_LEAF}`",
        Severity.ERROR,
        _fix(checker, chain, qualified),
    )


def _unpacked_parameters(
    checker: Checker, chain: ast.Call, qualified: str | None
) -> ast.expr | None:
    """The ``model.parameters()`` that ``chain`` unpacks into single parameters."""
    if qualified == _FROM_ITERABLE and len(chain.args) == 1 and not chain.keywords:
        argument = chain.args[0]
        return argument if checker.kinds.holds_module_parameters(argument) else None
    if qualified != _CHAIN or chain.keywords:
        return None
    for argument in chain.args:
        if isinstance(argument, ast.Starred) and checker.kinds.holds_module_parameters(
            argument.value
        ):
            return argument.value
    return None


def _fix(checker: Checker, chain: ast.Call, qualified: str | None) -> tuple[Fix, ...]:
    """``chain(model.parameters(), [w])``: every argument an iterable of parameters."""
    source = checker.source
    if qualified == _FROM_ITERABLE:
        return ()
    edits: list[TextEdit] = []
    for argument in chain.args:
        if isinstance(argument, ast.Starred):
            if not checker.kinds.holds_module_parameters(argument.value):
                return ()
            edits.append(source.replace(argument, source.node_text(argument.value)))
        elif checker.kinds.is_parameter_tensor(argument):
            edits.append(source.replace(argument, f"[{source.node_text(argument)}]"))
        elif not _parameters_already(checker, argument):
            return ()
    return (Fix("Pass the parameters, not their rows", FixSafety.SAFE, tuple(edits)),)


def _parameters_already(checker: Checker, argument: ast.expr) -> bool:
    """An argument ``chain`` may keep: ``model.parameters()`` or ``[w, b]``."""
    if isinstance(argument, (ast.List, ast.Tuple)) and argument.elts:
        return all(checker.kinds.is_parameter_tensor(e) for e in argument.elts)
    return checker.kinds.holds_module_parameters(argument)
