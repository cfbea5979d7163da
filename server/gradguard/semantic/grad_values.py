"""What autograd state a name holds: the binding questions of GG305, GG506 and GG507.

* Is gradient recording off at a statement (``torch.no_grad()``, ``inference_mode()``,
  ``set_grad_enabled(False)``, as a ``with``, a decorator or a global call)?
* Which bindings of a name reach a statement (source order, dominance through ``with``
  and ``try`` bodies, the next iteration of an enclosing loop)?
* Was a value computed without grad (so it has no ``grad_fn``)?
* Does a value surely require grad: it is backward-ed, or computed by a module's forward
  with grad on?

Everything is answered from the file as written; unknown is None (rules stay silent).
Reaching bindings are the semantic model's (``semantic.bindings``); whether a callee is
a module is the model's value (``kinds.Kinds.is_module``).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from gradguard.analysis import flow
from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.tensors import factory_name
from gradguard.semantic import control
from gradguard.semantic.bindings import Definition, ScopeBindings
from gradguard.semantic.grad_mode import grad_disabled_by, switch_state
from gradguard.semantic.kinds import Kinds
from gradguard.semantic.limits import NAME_DEPTH

# Tensor methods whose result may be the receiver itself or a view of it: under
# ``no_grad`` a view of a tensor that requires grad still requires grad (measured).
PASS_THROUGH_METHODS = frozenset(
    {
        "view", "view_as", "reshape", "reshape_as", "squeeze", "unsqueeze", "flatten",
        "t", "transpose", "permute", "expand", "expand_as", "narrow", "select", "chunk",
        "split", "unbind", "to", "cpu", "cuda", "float", "contiguous", "type_as",
        "requires_grad_", "__getitem__",
    }
)  # fmt: skip
# Calls and methods whose result carries no autograd history.
HISTORY_FREE_METHODS = frozenset(
    {"item", "detach", "tolist", "numpy", "argmax", "argmin", "long", "int", "bool", "eq", "ne"}
    | {"size", "numel", "dim", "nelement"}
)
HISTORY_FREE_FUNCTIONS = frozenset({"float", "int", "round", "len", "str", "bool"})
_HISTORY_FREE_ATTRIBUTES = frozenset({"data", "grad", "shape", "dtype", "device", "requires_grad"})
# ``model``, ``self.net``, ``netG``, ``model_ema``, ``text_encoder``, ``student_model``; not
# ``build_model`` / ``get_model`` (they return a model) nor ``_get_module_name``.
_MODEL_SPELLING = re.compile(
    r"^(?!(get|build|create|make|load|init|setup|wrap|prepare|_)\w*$)(\w+_)?"
    r"(model|net|network|module|encoder|decoder|backbone|generator|"
    r"discriminator|classifier|critic|actor|policy|rnn|lstm|gru)"
    r"([A-Z]|\d+|_[A-Za-z0-9]{1,3})?$",
    re.IGNORECASE,
)
LOSS_SPELLING = re.compile(r"loss|criterion|nll|cross_entropy|mse", re.IGNORECASE)


@dataclass(frozen=True)
class Binding:
    """A statement that binds a name, and the expression it binds (None: unknown)."""

    statement: ast.stmt
    value: ast.expr | None
    # The name is one element of an unpacked ``value`` (``out, h = rnn(x, h)``).
    unpacked: bool = False


@dataclass(frozen=True)
class NoGrad:
    """Why a value has no grad: the switch that disabled recording where it was computed."""

    switch: ast.AST  # the ``with`` item's expression, the decorator or the global call
    computed_at: ast.stmt


# -- reaching bindings -----------------------------------------------------------------


def reaching(facts: ModuleFacts, name: str, at: ast.stmt) -> list[Binding] | None:
    """The bindings of ``name`` that may reach ``at`` (the semantic model's reaching
    definitions); None when the name may also hold something from outside the scope (a
    parameter, a global, nothing bound on some path)."""
    scope = facts.enclosing_scope(at)
    # The semantic model's bindings alone: these questions need no abstract values.
    bindings = facts.shared(("grad_values.bindings", scope), lambda: ScopeBindings(facts, scope))
    definitions = bindings.reaching(name, at)
    if not definitions or any(d.statement is None for d in definitions):
        return None
    if not any(control.dominates(facts, d.statement, at) for d in definitions):  # type: ignore[arg-type]
        return None
    return [_binding(d) for d in definitions]


def _binding(definition: Definition) -> Binding:
    statement = definition.statement
    assert statement is not None
    if definition.kind == "augment":
        return Binding(statement, definition.value)
    if definition.kind != "assign":
        return Binding(statement, None)  # a loop or ``with`` target, an import...
    if isinstance(statement, ast.Assign) and definition.value is None:
        return Binding(statement, statement.value, unpacked=True)  # ``out, h = rnn(x, h)``
    return Binding(statement, definition.value)


def dominates(facts: ModuleFacts, first: ast.stmt, second: ast.stmt) -> bool:
    """``first`` runs before ``second`` whenever ``second`` runs (same scope)."""
    return control.dominates(facts, first, second)


# -- values computed without grad (GG305) ------------------------------------------------


def computed_without_grad(
    facts: ModuleFacts, expr: ast.AST, at: ast.stmt, depth: int = 0
) -> NoGrad | None:
    """Why ``expr``, evaluated at ``at``, surely has no ``grad_fn``; None when unknown."""
    if depth > NAME_DEPTH:
        return None
    if isinstance(expr, ast.Name):
        return _name_without_grad(facts, expr.id, at, depth)
    if isinstance(expr, (ast.Attribute, ast.Subscript)):
        return computed_without_grad(facts, expr.value, at, depth + 1)
    switch = grad_disabled_by(facts, at)
    if isinstance(expr, ast.Call):
        method = flow.method_name(expr)
        if method == "scale" and len(expr.args) == 1:  # scaler.scale(loss)
            return computed_without_grad(facts, expr.args[0], at, depth + 1)
        if method in PASS_THROUGH_METHODS:
            return computed_without_grad(facts, expr.func.value, at, depth + 1)  # type: ignore[attr-defined]
        if switch is not None and factory_name(facts, expr) is None:
            return NoGrad(switch, at)
        decorator = _no_grad_function(facts, expr)
        if decorator is not None:
            return NoGrad(decorator, at)
        if method is not None and not expr.args and not expr.keywords:  # loss.mean()
            return computed_without_grad(facts, expr.func.value, at, depth + 1)  # type: ignore[attr-defined]
        return None
    if isinstance(expr, (ast.BinOp, ast.UnaryOp)):
        if switch is not None:
            return NoGrad(switch, at)
        operands = [expr.left, expr.right] if isinstance(expr, ast.BinOp) else [expr.operand]
        tensors = [o for o in operands if not isinstance(o, ast.Constant)]
        found = [computed_without_grad(facts, o, at, depth + 1) for o in tensors]
        if found and all(f is not None for f in found):
            return found[0]
    return None


def _name_without_grad(facts: ModuleFacts, name: str, at: ast.stmt, depth: int) -> NoGrad | None:
    bindings = reaching(facts, name, at)
    if not bindings:
        return None
    reasons = []
    for binding in bindings:
        if binding.value is None or sets_requires_grad_between(facts, name, binding.statement, at):
            return None
        if isinstance(binding.statement, ast.AugAssign):
            return None
        reason = computed_without_grad(facts, binding.value, binding.statement, depth + 1)
        if reason is None:
            return None
        reasons.append(reason)
    return reasons[0]


def _no_grad_function(facts: ModuleFacts, call: ast.Call) -> ast.AST | None:
    """The ``@torch.no_grad()`` decorator of the same-file function ``call`` runs."""
    function = same_file_function(facts, call)
    for decorator in getattr(function, "decorator_list", []):
        if switch_state(facts, decorator) is False:
            return decorator  # type: ignore[no-any-return]
    return None


def same_file_function(
    facts: ModuleFacts, call: ast.Call
) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The function ``helper(...)`` or ``self.method(...)`` runs, defined in this file."""
    func = call.func
    if isinstance(func, ast.Name):
        return facts.functions.get(func.id)
    if isinstance(func, ast.Attribute) and flow.dotted_name(func.value) == "self":
        info = facts.class_info_of(call)
        return info.methods.get(func.attr) if info is not None else None
    return None


def called_without_grad(facts: ModuleFacts, scope: ast.AST) -> bool:
    """Some same-file call of the function ``scope`` runs with recording off
    (``with torch.no_grad(): validate(model, loader)``)."""
    if not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    for call in _calls_named(facts, scope.name):
        statement = facts.enclosing_statement(call)
        if (
            same_file_function(facts, call) is scope
            and statement is not None
            and grad_disabled_by(facts, statement) is not None
        ):
            return True
    return False


def _calls_named(facts: ModuleFacts, name: str) -> list[ast.Call]:
    """Calls of ``name(...)`` / ``x.name(...)`` in the file (one index, shared)."""
    return facts.calls_named.get(name, [])


def requires_grad_setting(facts: ModuleFacts, stmt: ast.stmt) -> tuple[str, bool] | None:
    """``(name, is_assignment)`` for ``name.requires_grad = True`` (True) and
    ``name.requires_grad_()`` (False) statements."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target = stmt.targets[0]
        if (
            isinstance(target, ast.Attribute)
            and target.attr == "requires_grad"
            and isinstance(target.value, ast.Name)
            and isinstance(stmt.value, ast.Constant)
            and stmt.value.value is True
        ):
            return target.value.id, True
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        call = stmt.value
        receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
        arguments = [*call.args, *(k.value for k in call.keywords)]
        if (
            flow.method_name(call) == "requires_grad_"
            and isinstance(receiver, ast.Name)
            and all(isinstance(a, ast.Constant) and a.value is True for a in arguments)
        ):
            return receiver.id, False
    return None


def sets_requires_grad_between(
    facts: ModuleFacts, name: str, first: ast.stmt, last: ast.stmt
) -> bool:
    """A ``name.requires_grad = True`` / ``name.requires_grad_()`` statement after
    ``first`` and before ``last`` in their scope."""
    for info in facts.statements_of(facts.enclosing_scope(last)):
        if _position(first) < _position(info.node) < _position(last):
            setting = requires_grad_setting(facts, info.node)
            if setting is not None and setting[0] == name:
                return True
    return False


def _position(node: ast.AST) -> tuple[int, int]:
    return (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))


# -- values that require grad (GG506, GG507) ----------------------------------------------


def carries_history(facts: ModuleFacts, expr: ast.AST) -> list[ast.Name]:
    """The names whose autograd history surely flows into ``expr``: not through
    ``.item()``, ``.detach()``, ``.data``, ``float(...)``, comparisons, nor through calls
    of functions the file cannot see into (``accuracy(out, y)`` may return a float)."""
    stack: list[ast.AST] = [expr]
    found: list[ast.Name] = []
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Call):
            if _propagates(facts, current):
                stack.extend([*current.args, *(k.value for k in current.keywords)])
                func = current.func
                if isinstance(func, ast.Attribute) and not is_model_call(facts, current):
                    stack.append(func.value)  # the receiver of ``out.sum()``
            continue
        if isinstance(current, ast.Attribute) and current.attr in _HISTORY_FREE_ATTRIBUTES:
            continue
        if isinstance(current, (ast.Compare, ast.BoolOp)):
            continue  # booleans never require grad
        if isinstance(current, ast.Name) and isinstance(current.ctx, ast.Load):
            found.append(current)
        for child in ast.iter_child_nodes(current):
            if not isinstance(child, flow.SCOPE_TYPES):
                stack.append(child)
    return found


def _propagates(facts: ModuleFacts, call: ast.Call) -> bool:
    """A call whose result carries its inputs' history: a tensor method (not ``item``,
    ``detach``...), a ``torch`` function, a module or a loss function."""
    func = call.func
    if flow.method_name(call) in HISTORY_FREE_METHODS:
        return False
    if isinstance(func, ast.Name) and func.id in HISTORY_FREE_FUNCTIONS:
        return False
    qualified = facts.qualify(func)
    if qualified is not None:
        return qualified.startswith("torch.") or is_model_call(facts, call)
    name = (flow.dotted_name(func) or "").rsplit(".", 1)[-1]
    if LOSS_SPELLING.search(name) or is_model_call(facts, call):
        return True
    receiver = func.value if isinstance(func, ast.Attribute) else None
    # ``out.sum()``: a method of a value; ``self.helper(x)`` or ``helper(x)``: unknown.
    if receiver is None:
        return False
    if isinstance(receiver, (ast.Call, ast.Subscript, ast.BinOp)):
        return True
    return flow.dotted_name(receiver) not in ("self", None)


def is_model_call(facts: ModuleFacts, call: ast.AST) -> bool:
    """A call that runs a module's forward: a name the file shows is a module, or one
    spelled like a model (``model(x)``, ``self.net(x)``, ``self.encoder(x)``); never a
    ``torch`` function or class other than a layer (``torch.Generator()``)."""
    if not isinstance(call, ast.Call):
        return False
    return facts.shared(("grad_values.model_call", call), lambda: _is_model_call(facts, call))


def _is_model_call(facts: ModuleFacts, call: ast.Call) -> bool:
    func = call.func
    if flow.method_name(call) == "forward":
        func = func.value  # type: ignore[attr-defined]
    if (facts.qualify(func) or "").startswith("torch."):
        return False  # a torch function or class: ``nn.Linear(...)`` builds, it runs no forward
    name = (flow.dotted_name(func) or "").rsplit(".", 1)[-1]
    # ``Generator()`` builds a model; ``generator(z)`` runs one.
    if name[:1].islower() and _MODEL_SPELLING.match(name):
        return True
    dotted = flow.dotted_name(func) or ""
    if dotted.startswith("self.") and dotted.count(".") == 1:
        info = facts.class_info_of(call)  # a submodule this file's class registers
        return info is not None and dotted[5:] in info.submodules
    return isinstance(func, ast.Name) and Kinds.of(facts).is_module(func)


def forward_output(facts: ModuleFacts, name: str, at: ast.stmt, depth: int = 0) -> ast.AST | None:
    """The model call whose output ``name`` holds at ``at`` (directly, or through a loss
    function, arithmetic, ``.loss`` / ``[...]`` reads), computed with grad on; None when
    unknown or when any reaching binding is not such an output."""
    if depth > NAME_DEPTH:
        return None
    bindings = reaching(facts, name, at)
    if not bindings:
        return None
    found: ast.AST | None = None
    for binding in bindings:
        if binding.value is None or grad_disabled_by(facts, binding.statement) is not None:
            return None
        if isinstance(binding.statement, ast.AugAssign):
            return None
        if binding.unpacked and not is_model_call(facts, binding.value):
            return None  # one element of what a function returns: unknown
        model = _model_call_in(facts, binding.value, binding.statement, depth)
        if model is None:
            return None
        found = found or model
    return found


def _model_call_in(facts: ModuleFacts, expr: ast.AST, at: ast.stmt, depth: int) -> ast.AST | None:
    if is_model_call(facts, expr):
        return expr
    if isinstance(expr, ast.Call):
        if not _propagates(facts, expr):
            return None
        for argument in [*expr.args, *(k.value for k in expr.keywords)]:
            found = _model_call_in(facts, argument, at, depth + 1)
            if found is not None:
                return found
        if isinstance(expr.func, ast.Attribute):
            return _model_call_in(facts, expr.func.value, at, depth + 1)
        return None
    if isinstance(expr, ast.BinOp):
        return _model_call_in(facts, expr.left, at, depth + 1) or _model_call_in(
            facts, expr.right, at, depth + 1
        )
    if isinstance(expr, (ast.Attribute, ast.Subscript)):
        return _model_call_in(facts, expr.value, at, depth + 1)
    if isinstance(expr, ast.Name):
        return forward_output(facts, expr.id, at, depth + 1)
    return None


def inside(facts: ModuleFacts, node: ast.AST, outer: ast.AST) -> bool:
    """``node`` is somewhere below ``outer``."""
    return any(parent is outer for parent in facts.ancestors(node))
