"""The fixes GG303 offers: make the tensor the leaf it was meant to be.

Either pass a literal conversion's dtype/device to the factory (``torch.randn(3,
dtype=torch.float64, requires_grad=True)``) or drop the early ``requires_grad=True`` and
call ``.requires_grad_()`` on the final value. Both are safe (the same values, now a leaf).
"""

from __future__ import annotations

import ast
import re

from gradguard.analysis import flow
from gradguard.analysis.edits import owns_its_lines
from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.spelling import torch_name
from gradguard.analysis.tensors import (
    Binding,
    NonLeafCreation,
    Origin,
    is_grad_factory,
    keyword_of,
    non_leaf_operation,
)
from gradguard.findings import Fix, FixSafety, Position, Span, TextEdit
from gradguard.rules.base import RuleContext
from gradguard.semantic.catalogue.tensors import MOVE_AND_CAST_METHODS, SHAPE_AND_SCALE_METHODS
from gradguard.source import SourceFile

_DTYPE_OF_METHOD = {
    "double": "float64",
    "float": "float32",
    "half": "float16",
    "bfloat16": "bfloat16",
}
_DTYPES = frozenset(
    {
        "float16",
        "float32",
        "float64",
        "bfloat16",
        "half",
        "float",
        "double",
        "complex64",
        "complex128",
        "cfloat",
        "cdouble",
    }
)
_DEVICE_STRING = re.compile(r"^(cpu|cuda|mps|xpu|meta)(:\d+)?$")
# Where ``(<expr>).requires_grad_()`` may replace ``<expr>``: the value is kept as is
# (bound, stored, returned), not fed into a larger computation.
_KEEPING_PARENTS = (
    ast.Assign,
    ast.AnnAssign,
    ast.List,
    ast.Tuple,
    ast.Set,
    ast.ListComp,
    ast.SetComp,
    ast.GeneratorExp,
    ast.Dict,
    ast.DictComp,
    ast.Return,
)
_ATOMS = (ast.Call, ast.Attribute, ast.Subscript, ast.Name)
_RESHAPING_METHODS = MOVE_AND_CAST_METHODS | SHAPE_AND_SCALE_METHODS


def expression_fixes(context: RuleContext, creation: NonLeafCreation) -> tuple[Fix, ...]:
    facts, source = context.facts, context.source
    leaf, operation = creation.leaf, creation.operation
    if is_grad_factory(facts, leaf):
        assert isinstance(leaf, ast.Call)
        if creation.top is operation:
            moved = _move_into_factory(facts, source, leaf, operation)
            if moved is not None:
                removal = _delete_after(source, leaf, operation)
                if removal is not None:
                    return (_move_fix(leaf, moved, (*moved[1], removal), facts),)
        return _requires_grad_last_fix(
            facts, source, creation.top, _drop_keyword(source, leaf), leaf
        )
    # ``<fresh tensor>.requires_grad_().unsqueeze(0)``: drop the call, put it last.
    receiver = leaf.func.value  # type: ignore[attr-defined]
    if isinstance(receiver, (ast.Name, ast.Attribute, ast.Subscript)):
        return ()
    return _requires_grad_last_fix(
        facts, source, creation.top, _delete_after(source, receiver, leaf), leaf
    )


def rebinding_fixes(
    context: RuleContext,
    info: flow.StatementInfo,
    name: str,
    value: ast.expr,
    binding: Binding,
    operation: ast.expr,
) -> tuple[Fix, ...]:
    """Only for ``w = <factory>(..., requires_grad=True)`` directly followed by the rebinding."""
    facts, source = context.facts, context.source
    creation = binding.statement
    if binding.origin is not Origin.FACTORY or info.index == 0:
        return ()
    if info.block[info.index - 1] is not creation or not isinstance(creation, ast.Assign):
        return ()
    factory = creation.value
    if not (isinstance(factory, ast.Call) and binding.value is factory):
        return ()
    if operation is value and owns_its_lines(source, info.node):
        moved = _move_into_factory(facts, source, factory, operation)
        if moved is not None:
            removal = TextEdit(source.statement_lines(info.node), "")
            return (_move_fix(factory, moved, (*moved[1], removal), facts),)
    name_node = _name_operand(operation)
    if name_node is None:
        return ()
    return _requires_grad_last_fix(facts, source, value, _drop_keyword(source, factory), name_node)


def _name_operand(operation: ast.expr) -> ast.expr | None:
    """The name the rebinding's first operation applies to."""
    if isinstance(operation, ast.Call) and isinstance(operation.func, ast.Attribute):
        return operation.func.value
    for child in ast.iter_child_nodes(operation):
        if isinstance(child, ast.Name):
            return child
    return None


def _move_fix(
    factory: ast.Call,
    moved: tuple[str, tuple[TextEdit, ...]],
    edits: tuple[TextEdit, ...],
    facts: ModuleFacts,
) -> Fix:
    callee = facts.qualify(factory.func) or "the factory"
    return Fix(f"Pass {moved[0]} to `{callee}`", FixSafety.SAFE, edits)


def _move_into_factory(
    facts: ModuleFacts, source: SourceFile, factory: ast.Call, conversion: ast.expr
) -> tuple[str, tuple[TextEdit, ...]] | None:
    """Keyword arguments for the factory equivalent to the literal conversion, as
    (description, edits inserting them before ``requires_grad=``)."""
    if not isinstance(conversion, ast.Call):
        return None
    placement = _literal_placement(facts, source, conversion)
    if not placement:
        return None
    if any(k.arg is None for k in factory.keywords) or any(
        isinstance(a, ast.Starred) for a in factory.args
    ):
        return None
    if any(keyword_of(factory, key) is not None for key, _ in placement):
        return None
    requires_grad = keyword_of(factory, "requires_grad")
    if requires_grad is None:
        return None
    text = "".join(f"{key}={value}, " for key, value in placement)
    where = source.position_from_ast(requires_grad.lineno, requires_grad.col_offset)
    description = " and ".join(f"`{key}={value}`" for key, value in placement)
    return description, (source.insert_at(where, text),)


def _literal_placement(
    facts: ModuleFacts, source: SourceFile, call: ast.Call
) -> list[tuple[str, str]] | None:
    method = flow.method_name(call)
    if any(isinstance(a, ast.Starred) for a in call.args):
        return None
    if method in _DTYPE_OF_METHOD:
        torch = torch_name(facts)
        if call.args or call.keywords or torch is None:
            return None
        return [("dtype", f"{torch}.{_DTYPE_OF_METHOD[method]}")]
    if method in ("cuda", "cpu"):
        if call.keywords or len(call.args) > (1 if method == "cuda" else 0):
            return None
        if not call.args:
            return [("device", f'"{method}"')]
        index = call.args[0]
        if isinstance(index, ast.Constant) and type(index.value) is int:
            return [("device", f'"cuda:{index.value}"')]
        return None
    if method not in ("to", "type"):
        return None
    placement: list[tuple[str, str]] = []
    for arg in call.args:
        kind = _literal_kind(facts, arg)
        if kind is None or (kind == "device" and method == "type"):
            return None
        placement.append((kind, source.node_text(arg)))
    for keyword in call.keywords:
        if keyword.arg not in ("dtype", "device") or _literal_kind(facts, keyword.value) != (
            keyword.arg
        ):
            return None
        placement.append((keyword.arg, source.node_text(keyword.value)))
    kinds = [kind for kind, _ in placement]
    return placement if placement and len(set(kinds)) == len(kinds) else None


def _literal_kind(facts: ModuleFacts, expr: ast.expr) -> str | None:
    """``dtype`` for ``torch.float64``, ``device`` for ``"cuda"`` / ``torch.device("cuda")``."""
    qualified = facts.qualify(expr) or ""
    if qualified.startswith("torch.") and qualified[len("torch.") :] in _DTYPES:
        return "dtype"
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return "device" if _DEVICE_STRING.match(expr.value) else None
    if (
        isinstance(expr, ast.Call)
        and facts.qualify(expr.func) == "torch.device"
        and not expr.keywords
        and expr.args
        and all(isinstance(a, ast.Constant) for a in expr.args)
    ):
        return "device"
    return None


def _only_reshapes(facts: ModuleFacts, start: ast.expr, top: ast.expr) -> bool:
    """Every operation from ``start`` up to ``top`` converts, reshapes or scales the tensor
    (a reduction or a math function is a computation, not the tensor being initialised)."""
    current = start
    while current is not top:
        operation = non_leaf_operation(current, facts.parents)
        if operation is None:
            return False
        call = operation[0]
        if isinstance(call, ast.Call) and flow.method_name(call) not in _RESHAPING_METHODS:
            return False
        current = call
    return True


def _requires_grad_last_fix(
    facts: ModuleFacts,
    source: SourceFile,
    top: ast.expr,
    removal: TextEdit | None,
    start: ast.expr,
) -> tuple[Fix, ...]:
    """Remove the early ``requires_grad`` and call ``.requires_grad_()`` on the final value."""
    parent = facts.parents.get(top)
    if removal is None or not isinstance(parent, _KEEPING_PARENTS):
        return ()
    if isinstance(parent, (ast.Assign, ast.AnnAssign)) and parent.value is not top:
        return ()
    if not _only_reshapes(facts, start, top):
        return ()
    span = source.span_of(top)
    if isinstance(top, _ATOMS):
        edits: tuple[TextEdit, ...] = (removal, source.insert_at(span.end, ".requires_grad_()"))
    else:
        edits = (
            source.insert_at(span.start, "("),
            removal,
            source.insert_at(span.end, ").requires_grad_()"),
        )
    return (Fix("Call `.requires_grad_()` last", FixSafety.SAFE, edits),)


def _drop_keyword(source: SourceFile, factory: ast.Call) -> TextEdit | None:
    """Delete ``, requires_grad=True`` (from the comma after the previous argument)."""
    keyword = keyword_of(factory, "requires_grad")
    if keyword is None:
        return None
    start = source.position_from_ast(keyword.lineno, keyword.col_offset)
    previous_ends = [
        source.span_of(arg).end
        for arg in [*factory.args, *(k.value for k in factory.keywords)]
        if source.span_of(arg).end <= start
    ]
    if not previous_ends:
        return None
    between = source.segment(Span(max(previous_ends), start))
    comma = between.rfind(",")
    if comma < 0 or "#" in between:
        return None
    comma_at = source.position_at(source.offset(max(previous_ends)) + comma)
    return TextEdit(Span(comma_at, source.span_of(keyword.value).end), "")


def _delete_after(source: SourceFile, inner: ast.expr, outer: ast.expr) -> TextEdit | None:
    """Delete the method call that turns ``inner`` into ``outer`` (``.to(...)``), keeping
    any closing parentheses around ``inner``."""
    inner_end, outer_end = source.span_of(inner).end, source.span_of(outer).end
    segment = source.segment(Span(inner_end, outer_end))
    dot = segment.find(".")
    if dot < 0 or segment[:dot].strip(") \t\r\n") or "#" in segment:
        return None
    start: Position = source.position_at(source.offset(inner_end) + dot)
    return TextEdit(Span(start, outer_end), "")
