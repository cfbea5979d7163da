"""Where a file uses a tensor's ``.grad`` in a way that fails when it is None (GG301).

Three spellings, each with the error Python raises for ``None`` there (measured on
torch 2.13.0, Python 3.11):

* an attribute read on it: ``p.grad.zero_()`` / ``p.grad.data`` raise
  ``AttributeError: 'NoneType' object has no attribute 'zero_'`` (``'data'``);
* an operand of arithmetic: ``lr * p.grad`` raises
  ``TypeError: unsupported operand type(s) for *: 'float' and 'NoneType'``;
* the target (or the value) of an augmented assignment: ``p.grad *= 0.5`` raises
  ``TypeError: unsupported operand type(s) for *=: 'NoneType' and 'float'``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from gradguard.analysis import flow
from gradguard.analysis.facts import ModuleFacts

_OPERATORS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.MatMult: "@",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
}


@dataclass(frozen=True)
class GradUse:
    grad: ast.Attribute  # the `x.grad` node
    owner: str  # "x"
    statement: ast.stmt
    span: ast.AST  # what a finding covers: `x.grad.data`, `lr * x.grad`, `x.grad *= k`
    error: str  # what Python raises here when `x.grad` is None
    attribute: str = ""  # the attribute read on `x.grad` ("zero_", "data"), if any


def grad_uses(facts: ModuleFacts) -> list[GradUse]:
    """The file's ``.grad`` uses that fail on None, in source order."""
    uses = []
    for node in facts.parents:  # every node but the module itself
        if not (isinstance(node, ast.Attribute) and node.attr == "grad"):
            continue
        owner = flow.dotted_name(node.value)
        if not owner or owner.endswith(".grad"):
            continue  # `x.grad.grad.<attr>`: the `x.grad` link is the one reported
        use = _use_of(facts, node, owner)
        if use is not None:
            uses.append(use)
    uses.sort(key=lambda use: (use.grad.lineno, use.grad.col_offset))
    return uses


def _use_of(facts: ModuleFacts, grad: ast.Attribute, owner: str) -> GradUse | None:
    parent = facts.parents.get(grad)
    statement = facts.enclosing_statement(grad)
    if parent is None or statement is None:
        return None
    if isinstance(grad.ctx, ast.Load) and isinstance(parent, ast.Attribute):
        error = f"AttributeError: 'NoneType' object has no attribute '{parent.attr}'"
        return GradUse(grad, owner, statement, parent, error, parent.attr)
    if isinstance(parent, ast.BinOp) and type(parent.op) in _OPERATORS:
        sides = (_type_name(parent.left), "'NoneType'")
        if parent.left is grad:
            sides = ("'NoneType'", _type_name(parent.right))
        return GradUse(grad, owner, statement, parent, _operand_error(parent.op, "", *sides))
    if isinstance(parent, ast.AugAssign) and type(parent.op) in _OPERATORS:
        if parent.target is grad:
            sides = ("'NoneType'", _type_name(parent.value))
        else:
            sides = (_type_name(parent.target), "'NoneType'")
        return GradUse(grad, owner, statement, parent, _operand_error(parent.op, "=", *sides))
    return None


def _operand_error(op: ast.operator, suffix: str, left: str, right: str) -> str:
    symbol = _OPERATORS[type(op)] + suffix
    if symbol == "**":  # Python names the binary power after pow() too; not `**=`
        symbol = "** or pow()"
    if "?" in (left, right):
        return f"TypeError: unsupported operand type(s) for {symbol}"
    return f"TypeError: unsupported operand type(s) for {symbol}: {left} and {right}"


def _type_name(expr: ast.expr) -> str:
    """``'float'`` for a literal number; ``?`` for anything whose type the text does not
    show (the error then names it, but we cannot)."""
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
        expr = expr.operand
    if isinstance(expr, ast.Constant) and type(expr.value) in (int, float):
        return f"'{type(expr.value).__name__}'"
    return "?"
