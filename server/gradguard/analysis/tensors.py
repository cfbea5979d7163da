"""What autograd makes of tensor expressions: which create a leaf that requires grad,
which operations turn it into a non-leaf, and what each local name is bound to.

Shared by GG302 (a leaf rebound by a manual update) and GG303 (a tensor meant to be
trained that is not a leaf). Everything is syntactic and per scope; names the file
cannot tell about are simply absent from the bindings (rules stay silent on them).
"""

from __future__ import annotations

import ast
import enum
from collections.abc import Iterator
from dataclasses import dataclass

from gradguard.analysis import flow
from gradguard.analysis.facts import ModuleFacts
from gradguard.semantic.catalogue.tensors import (
    ALWAYS_NON_LEAF_METHODS,
    FACTORY_FUNCTIONS,
    NON_LEAF_ATTRIBUTES,
)
from gradguard.semantic.catalogue.tensors import MOVE_AND_CAST_METHODS as CONVERT_METHODS

_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Pow, ast.MatMult, ast.Mod)
_OPERATOR_SYMBOLS: dict[type, str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Pow: "**",
    ast.MatMult: "@",
    ast.Mod: "%",
}
# Reads of a tensor that do not carry autograd history into the result.
_HISTORY_FREE_ATTRIBUTES = frozenset(
    {"grad", "data", "shape", "dtype", "device", "requires_grad", "is_leaf", "ndim"}
)
_HISTORY_FREE_METHODS = frozenset(
    {"detach", "item", "size", "numel", "dim", "tolist", "numpy", "norm_", "requires_grad_"}
)


class Kind(enum.Enum):
    MODULE = "module"  # an nn.Module with parameters
    TENSOR = "tensor"  # a tensor from a torch function, not requiring grad
    GRAD_LEAF = "grad-leaf"  # a leaf that requires grad
    COMPUTED = "computed"  # a non-leaf computed from tensors that require grad


class Origin(enum.Enum):
    FACTORY = "factory"  # torch.randn(..., requires_grad=True)
    REQUIRES_GRAD_CALL = "requires_grad_"  # x.requires_grad_() / x.requires_grad = True
    PARAMETER = "parameter"  # nn.Parameter(...)
    PARAMETER_LOOP = "parameter-loop"  # for p in model.parameters()
    OTHER = "other"


@dataclass(frozen=True, eq=False)
class Binding:
    kind: Kind
    origin: Origin
    statement: ast.stmt
    value: ast.AST | None = None
    # For COMPUTED: the binding rebinds its own name (``w = w * 2``) or holds an
    # expression already reported where the non-leaf is created.
    already_reported: bool = False


# -- single expressions ---------------------------------------------------------


def is_true(expr: ast.AST | None) -> bool:
    return isinstance(expr, ast.Constant) and expr.value is True


def keyword_of(call: ast.Call, name: str) -> ast.keyword | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword
    return None


def factory_name(facts: ModuleFacts, expr: ast.AST) -> str | None:
    """``randn`` for a call of ``torch.randn`` (however imported)."""
    if not isinstance(expr, ast.Call):
        return None
    qualified = facts.qualify(expr.func) or ""
    head, _, last = qualified.rpartition(".")
    return last if head == "torch" and last in FACTORY_FUNCTIONS else None


def is_grad_factory(facts: ModuleFacts, expr: ast.AST) -> bool:
    """``torch.randn(3, requires_grad=True)`` with a literal True."""
    if factory_name(facts, expr) is None:
        return False
    assert isinstance(expr, ast.Call)
    keyword = keyword_of(expr, "requires_grad")
    return keyword is not None and is_true(keyword.value)


def is_requires_grad_call(expr: ast.AST) -> bool:
    """``x.requires_grad_()`` / ``x.requires_grad_(True)`` (not False, not a variable)."""
    if not (isinstance(expr, ast.Call) and flow.method_name(expr) == "requires_grad_"):
        return False
    if any(isinstance(a, ast.Starred) for a in expr.args) or len(expr.args) > 1:
        return False
    values = list(expr.args) + [k.value for k in expr.keywords]
    return all(is_true(v) for v in values) and all(k.arg == "requires_grad" for k in expr.keywords)


def operand_chain_parent(node: ast.AST, parent: ast.AST | None) -> tuple[ast.expr, bool] | None:
    """When ``parent`` is an operation applied to ``node`` whose result is a non-leaf,
    return (the operation, whether it is a conversion that may be a no-op)."""
    if isinstance(parent, (ast.Attribute, ast.Subscript)) and not isinstance(parent.ctx, ast.Load):
        return None  # an assignment target, not a value
    if isinstance(parent, ast.Attribute) and parent.value is node:
        if parent.attr in NON_LEAF_ATTRIBUTES:
            return parent, False
        return None
    if isinstance(parent, ast.BinOp) and isinstance(parent.op, _ARITHMETIC):
        return parent, False
    if isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.USub):
        return parent, False
    if isinstance(parent, ast.Subscript) and parent.value is node:
        return parent, False
    return None


def method_operation(
    node: ast.AST, parents: dict[ast.AST, ast.AST]
) -> tuple[ast.Call, bool] | None:
    """``node.to(...)`` / ``node.unsqueeze(0)``: the call, and whether it is a conversion."""
    attribute = parents.get(node)
    if not (isinstance(attribute, ast.Attribute) and attribute.value is node):
        return None
    call = parents.get(attribute)
    if not (isinstance(call, ast.Call) and call.func is attribute):
        return None
    if attribute.attr in CONVERT_METHODS:
        return call, True
    if attribute.attr in ALWAYS_NON_LEAF_METHODS:
        return call, False
    return None


def non_leaf_operation(
    node: ast.AST, parents: dict[ast.AST, ast.AST]
) -> tuple[ast.expr, bool] | None:
    """The operation applied directly to ``node`` that yields a non-leaf, if any."""
    method = method_operation(node, parents)
    if method is not None:
        return method
    return operand_chain_parent(node, parents.get(node))


def chain_top(node: ast.expr, parents: dict[ast.AST, ast.AST]) -> ast.expr:
    """The outermost of the non-leaf operations applied one after another to ``node``."""
    current = node
    while True:
        operation = non_leaf_operation(current, parents)
        if operation is None:
            return current
        current = operation[0]


def is_detached_or_wrapped(facts: ModuleFacts, top: ast.expr) -> bool:
    """``(...).detach()``, ``(...).data`` or ``nn.Parameter(...)``: the result is a leaf again."""
    parent = facts.parents.get(top)
    if isinstance(parent, ast.Attribute) and parent.value is top:
        return parent.attr in ("detach", "detach_", "data")
    if isinstance(parent, ast.Call) and top in parent.args:
        return facts.is_parameter_call(parent)
    return False


def operation_text(operation: ast.expr) -> str:
    """How a message names the operation: ``.to(...)``, ``* k``, ``[...]``."""
    if isinstance(operation, ast.Call) and isinstance(operation.func, ast.Attribute):
        args = "..." if operation.args or operation.keywords else ""
        return f"`.{operation.func.attr}({args})`"
    if isinstance(operation, ast.Attribute):
        return f"`.{operation.attr}`"
    if isinstance(operation, ast.BinOp):
        return f"`{_OPERATOR_SYMBOLS.get(type(operation.op), '?')} ...`"
    if isinstance(operation, ast.UnaryOp):
        return "`-`"
    return "`[...]`"


def history_reads(expr: ast.AST) -> Iterator[ast.Name]:
    """Names whose autograd history flows into ``expr`` (not via ``x.grad``, ``x.detach()``)."""
    stack: list[ast.AST] = [expr]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Attribute) and current.attr in _HISTORY_FREE_ATTRIBUTES:
            continue
        if isinstance(current, ast.Call) and flow.method_name(current) in _HISTORY_FREE_METHODS:
            stack.extend(current.args)
            stack.extend(k.value for k in current.keywords)
            continue
        if isinstance(current, ast.Name) and isinstance(current.ctx, ast.Load):
            yield current
        for child in ast.iter_child_nodes(current):
            if not isinstance(child, flow.SCOPE_TYPES):
                stack.append(child)


def grad_reads(expr: ast.AST) -> Iterator[ast.Attribute]:
    """Every ``<something>.grad`` read inside ``expr``."""
    for node in flow.walk_local(expr):
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "grad"
            and isinstance(node.ctx, ast.Load)
        ):
            yield node


def is_grad_of(node: ast.Attribute, name: str) -> bool:
    """``name.grad`` (also ``name.data.grad`` is not; only the direct read)."""
    return isinstance(node.value, ast.Name) and node.value.id == name


# Out-of-place tensor methods that spell an update: ``w.sub(lr * w.grad)``.
_UPDATE_METHODS = frozenset({"sub", "add", "mul"})


def update_call(expr: ast.AST) -> ast.Call | None:
    """``w.sub(<expr>)`` / ``w.data.add(<expr>, alpha=-lr)``: the method form of
    ``w - <expr>``."""
    if (
        isinstance(expr, ast.Call)
        and flow.method_name(expr) in _UPDATE_METHODS
        and expr.args
        and not any(isinstance(a, ast.Starred) for a in expr.args)
    ):
        return expr
    return None


def arithmetic_terms(expr: ast.AST) -> Iterator[ast.expr]:
    """The operands of an arithmetic expression, through nested BinOps, negations and
    the ``sub``/``add``/``mul`` methods."""
    call = update_call(expr)
    if isinstance(expr, ast.BinOp):
        yield from arithmetic_terms(expr.left)
        yield from arithmetic_terms(expr.right)
    elif isinstance(expr, ast.UnaryOp):
        yield from arithmetic_terms(expr.operand)
    elif call is not None:
        yield from arithmetic_terms(call.func.value)  # type: ignore[attr-defined]
        for argument in call.args:
            yield from arithmetic_terms(argument)
    elif isinstance(expr, ast.expr):
        yield expr


def is_name_or_data(expr: ast.AST, name: str) -> bool:
    """``w`` or ``w.data``."""
    if isinstance(expr, ast.Attribute) and expr.attr == "data":
        expr = expr.value
    return isinstance(expr, ast.Name) and expr.id == name


def name_assignments(stmt: ast.stmt) -> list[tuple[ast.Name, ast.expr]]:
    """(target, value) pairs of ``a = v``, ``a: T = v`` and ``a, b = v1, v2``."""
    if isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        return [(stmt.target, stmt.value)] if isinstance(stmt.target, ast.Name) else []
    if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1:
        return []
    target, value = stmt.targets[0], stmt.value
    if isinstance(target, ast.Name):
        return [(target, value)]
    if (
        isinstance(target, (ast.Tuple, ast.List))
        and isinstance(value, (ast.Tuple, ast.List))
        and len(target.elts) == len(value.elts)
        and not any(isinstance(e, ast.Starred) for e in (*target.elts, *value.elts))
    ):
        return [
            (t, v) for t, v in zip(target.elts, value.elts, strict=True) if isinstance(t, ast.Name)
        ]
    return []


# -- updates (GG302) --------------------------------------------------------------


def is_leaf_update(
    name: str, value: ast.expr, binding: Binding | None, info: flow.StatementInfo
) -> bool:
    """``w = w - lr * w.grad`` (or ``+``, ``*``, ``w.data``): an arithmetic rebinding of
    ``name`` that is a manual update of a leaf requiring grad. ``w.grad`` in the value
    implies the leaf; otherwise the name must be a known leaf and the value read some
    ``.grad`` or sit in a training loop."""
    settled = leaf_update_by_syntax(name, value, info)
    if settled is not None:
        return settled
    return binding is not None and binding.kind is Kind.GRAD_LEAF


def leaf_update_by_syntax(name: str, value: ast.expr, info: flow.StatementInfo) -> bool | None:
    """:func:`is_leaf_update` when the statement alone decides it (None: the answer
    depends on whether ``name`` holds a leaf), so a caller asks for the binding, which
    follows definitions, only when it counts."""
    if not has_update_shape(name, value):
        return False
    reads = list(grad_reads(value))
    if any(is_grad_of(read, name) for read in reads):
        return True
    return None if reads or in_training_loop(info) else False


def has_update_shape(name: str, value: ast.expr) -> bool:
    """The syntax of an update of ``name``: ``name - <expr>`` (``+``, ``*``, ``.data``,
    the ``sub``/``add``/``mul`` methods). :func:`is_leaf_update` needs it first, so a
    scope without one needs no bindings."""
    call = update_call(value)
    if call is not None:
        if not is_name_or_data(call.func.value, name):  # type: ignore[attr-defined]
            return False
    elif not (isinstance(value, ast.BinOp) and isinstance(value.op, (ast.Sub, ast.Add, ast.Mult))):
        return False
    return any(is_name_or_data(term, name) for term in arithmetic_terms(value))


def in_training_loop(info: flow.StatementInfo) -> bool:
    return any(flow.is_training_loop(loop) for loop in info.loops)


def retained_names(scope: ast.AST) -> set[str]:
    """Names on which ``.retain_grad()`` is called somewhere in the scope."""
    names = set()
    for node in flow.walk_local(scope):
        if isinstance(node, ast.Call) and flow.method_name(node) == "retain_grad":
            receiver = node.func.value  # type: ignore[attr-defined]
            if isinstance(receiver, ast.Name):
                names.add(receiver.id)
    return names


# -- non-leaf creation inside one expression (GG303) ------------------------------------


@dataclass(frozen=True, eq=False)
class NonLeafCreation:
    leaf: ast.expr  # the factory call or the ``requires_grad_()`` call
    operation: ast.expr  # the operation applied to it
    conversion: bool  # a conversion that is a no-op when dtype and device already match
    top: ast.expr  # the last of the chained operations


def non_leaf_creation_at(facts: ModuleFacts, node: ast.AST) -> NonLeafCreation | None:
    """A grad leaf created at ``node`` and immediately turned into a non-leaf."""
    if not facts.mentions("requires_grad"):
        return None  # both kinds of creation spell it
    factory = is_grad_factory(facts, node)
    if not factory and not is_requires_grad_call(node):
        return None
    assert isinstance(node, ast.expr)
    operation = non_leaf_operation(node, facts.parents)
    if operation is None:
        return None
    if not factory and not _requires_grad_receiver_is_tensor(facts, node, operation):
        return None
    top = chain_top(node, facts.parents)
    if is_detached_or_wrapped(facts, top):
        return None
    stmt = facts.enclosing_statement(node)
    if stmt is not None and facts.is_under_no_grad(stmt):
        return None
    return NonLeafCreation(node, operation[0], operation[1], top)


def _requires_grad_receiver_is_tensor(
    facts: ModuleFacts, call: ast.expr, operation: tuple[ast.expr, bool]
) -> bool:
    """``m.requires_grad_()`` returns the module when ``m`` is one, and modules have
    ``.to()``/``.cuda()``/``[i]`` too: for those ambiguous operations the receiver must be
    visibly a tensor; arithmetic and shape methods exist only on tensors."""
    receiver = call.func.value  # type: ignore[attr-defined]
    if isinstance(receiver, ast.Call) and facts.is_module_call(receiver):
        return False
    op, conversion = operation
    ambiguous = conversion or isinstance(op, ast.Subscript)
    if not ambiguous:
        return True
    if isinstance(receiver, (ast.BinOp, ast.UnaryOp)):
        return True
    if isinstance(receiver, ast.Call):
        qualified = facts.qualify(receiver.func) or ""
        return qualified.startswith("torch.") and qualified.rsplit(".", 1)[-1][:1].islower()
    return False


def contains_non_leaf_creation(facts: ModuleFacts, expr: ast.AST) -> bool:
    if not facts.mentions("requires_grad"):
        return False  # skip the walk: every creation spells it
    return any(non_leaf_creation_at(facts, node) for node in flow.walk_local(expr))
