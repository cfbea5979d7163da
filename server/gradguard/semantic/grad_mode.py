"""Gradient recording at a statement: ``torch.no_grad()``, ``torch.inference_mode()``,
``torch.set_grad_enabled(<bool>)`` and ``torch.enable_grad()`` as ``with`` blocks,
decorators or global calls (the names come from ``catalogue.training``); and code that
means to trigger an error (``pytest.raises``), where the rules say nothing.
"""

from __future__ import annotations

import ast

from gradguard.analysis import flow
from gradguard.analysis.edits import containing_block
from gradguard.analysis.facts import ModuleFacts
from gradguard.semantic.catalogue import training


def switch_state(facts: ModuleFacts, expr: ast.AST) -> bool | None:
    """False for an expression that turns recording off (``torch.no_grad()``), True for
    one that turns it on, None for anything else or an unknown argument."""
    call = expr if isinstance(expr, ast.Call) else None
    func = call.func if call is not None else expr
    qualified = _context_name(facts, func)
    if qualified in training.NO_GRAD_CONTEXTS:
        argument = _first_argument(call, "mode")
        if argument is None:
            return False
        return None if not isinstance(argument, ast.Constant) else not bool(argument.value)
    if qualified in training.ENABLE_GRAD_CONTEXTS:
        return True
    if qualified in training.SET_GRAD_ENABLED and call is not None:
        argument = _first_argument(call, "mode")
        if isinstance(argument, ast.Constant) and isinstance(argument.value, bool):
            return argument.value
    return None


def _context_name(facts: ModuleFacts, func: ast.AST) -> str:
    """The qualified name of a grad-mode switch; a bare ``no_grad`` the file cannot
    resolve is read as torch's (no other library spells these names)."""
    qualified = facts.qualify(func)
    if qualified is not None:
        return qualified
    last = (flow.dotted_name(func) or "").rsplit(".", 1)[-1]
    return f"torch.{last}"


def grad_disabled_by(facts: ModuleFacts, stmt: ast.stmt) -> ast.AST | None:
    """The switch that turns recording off where ``stmt`` runs, innermost first; None
    when recording is on or unknown. Stops at the enclosing function (its callers'
    mode is the caller's business)."""
    current: ast.AST = stmt
    while True:
        state, switch = _preceding_global_switch(facts, current)
        if state is not None:
            return switch if state is False else None
        parent = facts.parents.get(current)
        if parent is None:
            return None
        if isinstance(parent, (ast.With, ast.AsyncWith)) and current in parent.body:
            for item in reversed(parent.items):
                state = switch_state(facts, item.context_expr)
                if state is not None:
                    return item.context_expr if state is False else None
        if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for decorator in parent.decorator_list:
                if switch_state(facts, decorator) is False:
                    return decorator
            return None
        if isinstance(parent, (ast.ClassDef, ast.Lambda)):
            return None
        current = parent


def _preceding_global_switch(facts: ModuleFacts, stmt: ast.AST) -> tuple[bool | None, ast.AST]:
    """The nearest earlier ``torch.set_grad_enabled(<bool>)`` statement of the block."""
    block = _block_of(facts, stmt)
    if block is None:
        return None, stmt
    index = next((i for i, s in enumerate(block) if s is stmt), 0)
    for previous in reversed(block[:index]):
        call = previous.value if isinstance(previous, ast.Expr) else None
        if (
            isinstance(call, ast.Call)
            and _context_name(facts, call.func) in training.SET_GRAD_ENABLED
        ):
            return switch_state(facts, call), call
    return None, stmt


def _first_argument(call: ast.Call | None, keyword: str) -> ast.expr | None:
    if call is None:
        return None
    if call.args:
        return call.args[0]
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def _block_of(facts: ModuleFacts, stmt: ast.AST) -> list[ast.stmt] | None:
    return containing_block(facts.parents, stmt)  # type: ignore[arg-type]


def expects_an_error(facts: ModuleFacts, node: ast.AST) -> bool:
    """``node`` runs inside ``with pytest.raises(...)`` / ``self.assertRaises(...)``: test
    code that means to trigger the error."""
    for parent in facts.ancestors(node):
        if isinstance(parent, (ast.With, ast.AsyncWith)):
            for item in parent.items:
                call = item.context_expr
                func = call.func if isinstance(call, ast.Call) else call
                name = (flow.dotted_name(func) or "").rsplit(".", 1)[-1]
                if name in ("raises", "assertRaises", "assertRaisesRegex", "assertRaisesRegexp"):
                    return True
        if isinstance(parent, flow.SCOPE_TYPES):
            return False
    return False
