"""The backward calls of a file and what each differentiates: ``loss.backward()``,
``scaler.scale(loss).backward()``, ``accelerator.backward(loss)``,
``self.manual_backward(loss)``; the names whose history a region's backwards go through.
"""

from __future__ import annotations

import ast
import re

from gradguard.analysis import flow
from gradguard.analysis.facts import ModuleFacts
from gradguard.semantic.grad_values import carries_history


def backward_through(facts: ModuleFacts, name: str, region: ast.AST) -> ast.Call | None:
    """A ``backward()`` call in ``region`` whose receiver carries ``name``'s history
    (``name.backward()``, ``scaler.scale(name).backward()``, ``(name / k).backward()``)."""
    return _backwards_by_name(facts, region).get(name)


def has_backward(facts: ModuleFacts, region: ast.AST) -> bool:
    """Some backward call in ``region`` (outside nested functions)."""
    return any(_in_region(facts, call, region) for call in backward_calls(facts))


def backward_calls(facts: ModuleFacts) -> list[ast.Call]:
    """Every backward call of the file (one pass over the calls, shared)."""

    def build() -> list[ast.Call]:
        if not facts.mentions("backward"):
            return []
        return [
            n  # type: ignore[misc]
            for n in facts.nodes_of(ast.Call)
            if backward_subject(n) is not None  # type: ignore[arg-type]
        ]

    return facts.shared("grad_values.backward calls", build)


def _in_region(facts: ModuleFacts, node: ast.AST, region: ast.AST) -> bool:
    """``node`` is inside ``region``, not inside a function nested in it."""
    for parent in facts.ancestors(node):
        if parent is region:
            return True
        if isinstance(parent, flow.SCOPE_TYPES):
            return False
    return isinstance(region, ast.Module)


def _backwards_by_name(facts: ModuleFacts, region: ast.AST) -> dict[str, ast.Call]:
    """``{name: first backward call through it}`` for the region, built once."""

    def build() -> dict[str, ast.Call]:
        found: dict[str, ast.Call] = {}
        for call in backward_calls(facts):
            if _in_region(facts, call, region):
                subject = backward_subject(call)
                for read in carries_history(facts, subject) if subject is not None else ():
                    found.setdefault(read.id, call)
        return found

    return facts.shared(("grad_values.backwards", region), build)


# Receivers whose ``backward(loss)`` takes the loss as its argument (Accelerate, Fabric,
# DeepSpeed engines, ``torch.autograd.backward``, Lightning's ``manual_backward``).
_BACKWARD_WRAPPER = re.compile(
    r"accelerat|engine|fabric|trainer|model|strategy|deepspeed|autograd|^self$|^ds", re.I
)


def backward_subject(call: ast.Call) -> ast.expr | None:
    """The tensor a backward call differentiates: ``loss`` for ``loss.backward()``,
    ``scaler.scale(loss).backward()``, ``accelerator.backward(loss)``,
    ``self.manual_backward(loss)``; None when it is not a backward call."""
    method = flow.method_name(call)
    if method not in ("backward", "manual_backward"):
        return None
    receiver = call.func.value  # type: ignore[attr-defined]
    wrapper = (flow.dotted_name(receiver) or "").rsplit(".", 1)[-1]
    if method == "manual_backward" or (call.args and _BACKWARD_WRAPPER.search(wrapper)):
        return call.args[0] if call.args else None
    if isinstance(receiver, ast.Call) and flow.method_name(receiver) == "scale":
        return receiver.args[0] if len(receiver.args) == 1 else None
    return receiver  # type: ignore[no-any-return]
