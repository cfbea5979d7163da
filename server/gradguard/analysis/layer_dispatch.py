"""Init functions dispatched on the layer type: ``model.apply(init_weights)`` and
``for m in model.modules():`` loops, the ``isinstance`` / ``type(m) ==`` / class-name
tests that send a layer to a branch, and ``hasattr(m, "bias")`` tests (read as text)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradguard.analysis import flow
from gradguard.analysis.facts import ModuleFacts

MODULE_ITERATORS = frozenset({"modules", "named_modules", "children", "named_children"})


def applied_functions(facts: ModuleFacts) -> set[str]:
    """Names of the functions each layer is handed to: passed to ``.apply``
    (``model.apply(fn)``, ``self.apply(self._init_weights)``, ``apply(partial(fn, ...))``),
    or called with the layer of a ``for m in model.modules():`` loop (``xavier_init(m)``)."""
    names: set[str] = set()
    for node in facts.nodes_of(ast.Call):
        call: ast.Call = node  # type: ignore[assignment]
        if flow.method_name(call) != "apply" or not call.args:
            continue
        argument = call.args[0]
        if isinstance(argument, ast.Call) and argument.args:
            argument = argument.args[0]
        names.update(_function_name(argument))
    for node in facts.nodes_of(ast.For):
        loop: ast.For = node  # type: ignore[assignment]
        layer = _module_loop_variable(loop)
        if layer is None:
            continue
        for call in (n for n in flow.walk_local(loop) if isinstance(n, ast.Call)):
            first = call.args[0] if call.args else None
            if isinstance(first, ast.Name) and first.id == layer:
                names.update(_function_name(call.func))
    return names


def _function_name(expr: ast.expr) -> set[str]:
    if isinstance(expr, ast.Name):
        return {expr.id}
    return {expr.attr} if isinstance(expr, ast.Attribute) else set()


def _module_loop_variable(loop: ast.For | ast.AsyncFor) -> str | None:
    """``m`` of ``for m in model.modules():`` (``for _, m in model.named_modules():``)."""
    target = loop.target
    if isinstance(target, ast.Tuple) and len(target.elts) == 2:
        target = target.elts[1]
    if isinstance(target, ast.Name) and _iterates_modules(loop, target.id):
        return target.id
    return None


def is_layer_variable(facts: ModuleFacts, owner: str, node: ast.AST, applied: set[str]) -> bool:
    """``owner`` is the module an init function or ``modules()`` loop receives at ``node``."""
    if "." in owner:
        return False
    for ancestor in facts.ancestors(node):
        if isinstance(ancestor, (ast.For, ast.AsyncFor)) and _iterates_modules(ancestor, owner):
            return True
        if isinstance(ancestor, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = [a.arg for a in ancestor.args.posonlyargs + ancestor.args.args]
            if arguments[:1] in (["self"], ["cls"]):
                arguments = arguments[1:]
            return ancestor.name in applied and arguments[:1] == [owner]
    return False


def _iterates_modules(loop: ast.For | ast.AsyncFor, owner: str) -> bool:
    iterable = loop.iter
    if not (isinstance(iterable, ast.Call) and flow.method_name(iterable) in MODULE_ITERATORS):
        return False
    target = loop.target
    if flow.method_name(iterable) in ("named_modules", "named_children"):
        if not (isinstance(target, ast.Tuple) and len(target.elts) == 2):
            return False
        target = target.elts[1]
    return isinstance(target, ast.Name) and target.id == owner


def hasattr_guard(facts: ModuleFacts, node: ast.AST, owner: str, parameter: str) -> ast.Call | None:
    """The ``hasattr(m, "bias")`` of an enclosing ``if`` test (alone or in an ``and``)."""
    for operand, _ in guarding_tests(facts, node):
        if _is_hasattr(operand, owner, parameter):
            return operand  # type: ignore[return-value]
    return None


def guarding_tests(facts: ModuleFacts, node: ast.AST) -> Iterator[tuple[ast.expr, ast.If]]:
    """The operands of the ``if`` tests (alone or in an ``and``) whose body holds ``node``,
    innermost first, up to its function, each with its ``if``."""
    child: ast.AST = node
    for parent in facts.ancestors(node):
        if isinstance(parent, flow.SCOPE_TYPES):
            return
        if isinstance(parent, ast.If) and any(s is child for s in parent.body):
            for operand in and_operands(parent.test):
                yield operand, parent
        child = parent


def and_operands(test: ast.expr) -> list[ast.expr]:
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return list(test.values)
    return [test]


def _is_hasattr(expr: ast.AST, owner: str, parameter: str) -> bool:
    return (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Name)
        and expr.func.id == "hasattr"
        and len(expr.args) == 2
        and flow.dotted_name(expr.args[0]) == owner
        and isinstance(expr.args[1], ast.Constant)
        and expr.args[1].value == parameter
    )


def dispatch(facts: ModuleFacts, node: ast.AST, owner: str) -> tuple[set[str], bool] | None:
    """The layer class names the innermost type test sends here, and whether they are
    substrings of the class name (``classname.find("Conv") != -1``)."""
    for operand, _ in guarding_tests(facts, node):
        found = _type_test(facts, operand, owner)
        if found is not None:
            return found
    return None


def caller_dispatch(facts: ModuleFacts, node: ast.AST, owner: str) -> tuple[set[str], bool] | None:
    """The type tests of the ``modules()`` loops that hand ``owner`` to the helper around
    ``node`` (``if isinstance(m, nn.BatchNorm2d): constant_init(m, 1)``): their class names,
    when every such call is under one (otherwise the helper may get any layer)."""
    helper = next(
        (
            a
            for a in facts.ancestors(node)
            if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef))
        ),
        None,
    )
    if helper is None or _first_argument(helper) != owner:
        return None
    names: set[str] = set()
    by_substring = False
    calls = 0
    for loop in (n for n in facts.nodes_of(ast.For) if isinstance(n, ast.For)):
        layer = _module_loop_variable(loop)
        for call in (n for n in flow.walk_local(loop) if isinstance(n, ast.Call)) if layer else ():
            first = call.args[0] if call.args else None
            if not (isinstance(first, ast.Name) and first.id == layer):
                continue
            if helper.name not in _function_name(call.func):
                continue
            found = dispatch(facts, call, layer)
            if found is None:
                return None
            calls += 1
            names |= found[0]
            by_substring = by_substring or found[1]
    return (names, by_substring) if calls else None


def _first_argument(function: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    arguments = [a.arg for a in function.args.posonlyargs + function.args.args]
    if arguments[:1] in (["self"], ["cls"]):
        arguments = arguments[1:]
    return arguments[0] if arguments else None


def _type_test(facts: ModuleFacts, test: ast.AST, owner: str) -> tuple[set[str], bool] | None:
    if isinstance(test, ast.Call) and isinstance(test.func, ast.Name):
        if (
            test.func.id == "isinstance"
            and len(test.args) == 2
            and flow.dotted_name(test.args[0]) == owner
        ):
            types = test.args[1].elts if isinstance(test.args[1], ast.Tuple) else [test.args[1]]
            return {_class_name(facts, t) for t in types}, False
        return None
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        left, right = test.left, test.comparators[0]
        if isinstance(test.ops[0], (ast.Is, ast.Eq)) and _is_type_of(left, owner):
            return {_class_name(facts, right)}, False
        if isinstance(test.ops[0], ast.In) and isinstance(left, ast.Constant):
            return ({str(left.value)}, True) if _is_class_name_of(right, owner) else None
        # classname.find("Conv") != -1
        if isinstance(left, ast.Call) and flow.method_name(left) == "find" and left.args:
            receiver = left.func.value  # type: ignore[attr-defined]
            if isinstance(left.args[0], ast.Constant) and _is_class_name_of(receiver, owner):
                return {str(left.args[0].value)}, True
    return None


def _class_name(facts: ModuleFacts, expr: ast.AST) -> str:
    qualified = facts.qualify(expr) or flow.dotted_name(expr) or ""
    return qualified.rsplit(".", 1)[-1]


def _is_type_of(expr: ast.AST, owner: str) -> bool:
    """``type(m)`` or ``m.__class__``."""
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "type":
        return len(expr.args) == 1 and flow.dotted_name(expr.args[0]) == owner
    return flow.dotted_name(expr) == f"{owner}.__class__"


def _is_class_name_of(expr: ast.AST, owner: str) -> bool:
    """``m.__class__.__name__``, or a name the code calls ``classname`` for it."""
    name = flow.dotted_name(expr)
    return name in (f"{owner}.__class__.__name__", "classname", "class_name", "cls_name")
