"""Terms of a backward-ed loss: ``loss = mse + ce; loss.backward()`` makes ``mse`` a node of
the graph that backward went through, so a running total of ``mse`` keeps that graph alive
like a total of ``loss`` does (GG506)."""

from __future__ import annotations

import ast

from gradguard.analysis.facts import ModuleFacts
from gradguard.semantic import backwards, grad_values


def part_of_backwarded(
    facts: ModuleFacts, name: str, statement: ast.stmt, loop: ast.stmt
) -> tuple[str, ast.Call] | None:
    """(loss, its backward) when ``name`` is a term of a loss the loop backward-s
    (``loss = mse + ce; loss.backward()``, then ``total += mse``) and a forward's output:
    the term is a node of the backward-ed graph, so it keeps that graph too."""
    if grad_values.forward_output(facts, name, statement) is None:
        return None
    accumulated = grad_values.reaching(facts, name, statement) or []
    for call in backwards.backward_calls(facts):
        subject = backwards.backward_subject(call)
        at = facts.enclosing_statement(call)
        if subject is None or at is None or not grad_values.inside(facts, call, loop):
            continue
        for loss in sorted({n.id for n in ast.walk(subject) if isinstance(n, ast.Name)} - {name}):
            bindings = grad_values.reaching(facts, loss, at) or []
            if bindings and all(
                _adds(b.value, name)
                and grad_values.inside(facts, b.statement, loop)
                and _same_bindings(grad_values.reaching(facts, name, b.statement), accumulated)
                for b in bindings
            ):
                return loss, call
    return None


def _adds(value: ast.expr | None, name: str) -> bool:
    """``value`` is a sum (or difference) with ``name`` as one of its terms."""
    if not (isinstance(value, ast.BinOp) and isinstance(value.op, (ast.Add, ast.Sub))):
        return False
    terms = [value.left, value.right]
    return any((isinstance(t, ast.Name) and t.id == name) or _adds(t, name) for t in terms)


def _same_bindings(
    first: list[grad_values.Binding] | None, second: list[grad_values.Binding]
) -> bool:
    return bool(first) and {id(b.statement) for b in first} == {  # type: ignore[union-attr]
        id(b.statement) for b in second
    }
