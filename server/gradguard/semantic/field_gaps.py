"""May a parameter a module stores in a field have no gradient after a backward?

``op.alpha.grad`` where ``op`` holds instances of a same-file module class whose
``__init__`` stores ``self.alpha = nn.Parameter(...)``: the file shows ``alpha`` can keep
``.grad is None`` when it is created or set with ``requires_grad=False``, when the class's
``forward()`` (with the methods it reaches through ``self.<name>``) never reads
``self.alpha``, or reads it only on some paths (an ``if`` arm, a conditional expression,
after an early ``return``: a sampled path that skips it). Anything the file does not show
stays silent: a ``forward`` that hands ``self`` (or its ``parameters()``) to other code,
a read in a nested function, or ``alpha`` read through another object elsewhere (a parent
network computing with ``op.alpha``).
"""

from __future__ import annotations

import ast

from gradguard.analysis import flow
from gradguard.analysis.facts import ModuleFacts
from gradguard.semantic.gradients import Gap, Gradients
from gradguard.semantic.objects import ModuleObject, ParameterObject
from gradguard.semantic.values import Evaluator

_SELF_AS_A_WHOLE = frozenset({"parameters", "named_parameters", "state_dict", "__dict__"})
# Attributes read on a parameter that do not compute with it (no path to a loss).
_NOT_A_COMPUTATION = frozenset({"grad", "requires_grad"})
# Calls that pick some elements of a container (a sampled path through a supernet).
_SELECTING_CALLS = frozenset({"random.choice", "random.sample", "numpy.random.choice"})


def field_gap(
    facts: ModuleFacts, evaluator: Evaluator, gradients: Gradients, expr: ast.expr
) -> Gap | None:
    if not isinstance(expr, ast.Attribute):
        return None
    holders = evaluator.value_of(expr.value)
    value = evaluator.value_of(expr)
    if not holders or not all(_same_file_module(facts, obj) for obj in holders):
        return None
    if not value or not all(isinstance(obj, ParameterObject) for obj in value):
        return None
    if _read_through_other_objects(facts, expr.attr):
        return None
    for holder in sorted(holders, key=lambda obj: getattr(obj.site, "lineno", 0)):
        assert isinstance(holder, ModuleObject)
        gap = _holder_gap(facts, evaluator, gradients, holder, expr.attr)
        if gap is not None:
            return gap
    return _sampled_container_gap(facts, evaluator, expr.value)


def _sampled_container_gap(
    facts: ModuleFacts, evaluator: Evaluator, element: ast.expr
) -> Gap | None:
    """``for op in self.ops: op.alpha.grad`` where the class's ``forward()`` runs only
    some of ``self.ops`` each time (``random.choice(self.ops)``, ``self.ops[i]``)."""
    iterable = _iterated_by(facts, evaluator, element)
    if not (
        isinstance(iterable, ast.Attribute)
        and _is_self(iterable.value)
        and isinstance(iterable.ctx, ast.Load)
    ):
        return None
    owners = evaluator.value_of(iterable.value)
    if not owners or not all(_same_file_module(facts, obj) for obj in owners):
        return None
    for owner in owners:
        assert isinstance(owner, ModuleObject)
        forward = evaluator.heap.method(owner, "forward")
        if forward is None:
            return None
        _, reached = _methods_from(facts, evaluator.heap, owner, forward)
        reads = [n for m in reached for n in ast.walk(m) if _is_self_read(n, iterable.attr)]
        kinds = [_selection(facts, read) for read in reads]
        if "whole" in kinds or "selects" not in kinds:
            return None
        selecting = reads[kinds.index("selects")]
        reason = f"`{owner.class_name}.forward()` runs only some of `self.{iterable.attr}`"
        return Gap(reason, facts.parents.get(selecting, selecting))
    return None


def _iterated_by(facts: ModuleFacts, evaluator: Evaluator, element: ast.expr) -> ast.expr | None:
    """What ``for <element> in ...`` (a loop or a comprehension) runs over."""
    if not isinstance(element, ast.Name):
        return None
    generator = evaluator.comprehension_binding(element)
    if generator is not None:
        return generator.iter
    statement = facts.enclosing_statement(element)
    if statement is None:
        return None
    scope = facts.enclosing_scope(statement)
    reaching = evaluator.bindings(scope).reaching(element.id, statement)
    if len(reaching) == 1 and reaching[0].kind == "for":
        return reaching[0].value
    return None


def _selection(facts: ModuleFacts, read: ast.AST) -> str:
    """How ``forward`` uses a container: ``selects`` one (``random.choice(self.ops)``,
    ``self.ops[i]`` with a computed ``i``), only measures it (``len``), or the ``whole``."""
    parent = facts.parents.get(read)
    if isinstance(parent, ast.Call) and read in parent.args:
        called = facts.qualify(parent.func) or flow.dotted_name(parent.func) or ""
        if called in _SELECTING_CALLS:
            return "selects"
        if called == "len":
            return "measures"
    if isinstance(parent, ast.Subscript) and parent.value is read:
        constant = isinstance(parent.slice, ast.Constant)
        return "whole" if constant or isinstance(parent.slice, ast.Slice) else "selects"
    return "whole"


def _same_file_module(facts: ModuleFacts, obj: object) -> bool:
    return isinstance(obj, ModuleObject) and not obj.torch_layer and obj.class_name in facts.classes


def _read_through_other_objects(facts: ModuleFacts, attr: str) -> bool:
    """``<x>.alpha`` computed with anywhere but through ``self`` (a parent network's
    ``torch.softmax(op.alpha, 0)``): the file uses it in ways this module does not see."""
    for node in facts.nodes_of(ast.Attribute):
        assert isinstance(node, ast.Attribute)
        if node.attr != attr or not isinstance(node.ctx, ast.Load):
            continue
        if isinstance(node.value, ast.Name) and node.value.id == "self":
            continue
        parent = facts.parents.get(node)
        if not (isinstance(parent, ast.Attribute) and parent.attr in _NOT_A_COMPUTATION):
            return True
    return False


def _holder_gap(
    facts: ModuleFacts,
    evaluator: Evaluator,
    gradients: Gradients,
    holder: ModuleObject,
    attr: str,
) -> Gap | None:
    heap = evaluator.heap
    classes = heap.lineage(holder)
    stores = [
        statement
        for target, statement in heap.stores.get(attr, [])
        if _is_self(target.value) and _class_of(facts, statement) in classes
    ]
    if not stores:
        return None
    for node, receiver in gradients.freezes:
        inside_store = any(_contains(store, node) for store in stores)
        if inside_store or (
            receiver is not None
            and flow.dotted_name(receiver) == f"self.{attr}"
            and _class_of(facts, node) in classes
        ):
            return Gap(f"`self.{attr}` does not require grad", node)
    forward = heap.method(holder, "forward")
    if forward is None:
        return None
    always, reached = _methods_from(facts, heap, holder, forward)
    if any(_hands_self_away(method) for method in reached):
        return None
    reads = [(m, n) for m in reached for n in ast.walk(m) if _is_self_read(n, attr)]
    if not reads:
        return Gap(f"`{holder.class_name}.forward()` never uses `self.{attr}`", stores[0])
    blockers = []
    for method, read in reads:
        blocker = _conditional_around(facts, read, method) if method in always else method
        if blocker is None:
            return None
        blockers.append(blocker)
    first = min(blockers, key=lambda node: (node.lineno, node.col_offset))  # type: ignore[attr-defined]
    return Gap(f"`{holder.class_name}.forward()` uses `self.{attr}` only on some paths", first)


def _methods_from(
    facts: ModuleFacts, heap: object, holder: ModuleObject, forward: ast.AST
) -> tuple[set[ast.AST], list[ast.AST]]:
    """The methods ``forward`` reaches through ``self.<name>`` (called or not: a
    property), and those of them it always reaches."""
    reached, always = [forward], {forward}
    index = 0
    while index < len(reached):
        current = reached[index]
        for node in ast.walk(current):
            if not (isinstance(node, ast.Attribute) and _is_self(node.value)):
                continue
            method = heap.method(holder, node.attr)  # type: ignore[attr-defined]
            if method is None:
                continue
            if method not in reached:
                reached.append(method)
            if current in always and _conditional_around(facts, node, current) is None:
                always.add(method)
        index += 1
    return always, reached


def _hands_self_away(method: ast.AST) -> bool:
    """``helper(self, x)``, ``getattr(self, name)``, ``self.parameters()`` in forward:
    what reads the field is out of sight."""
    for node in ast.walk(method):
        if isinstance(node, ast.Call):
            arguments = [*node.args, *(k.value for k in node.keywords)]
            if any(_is_self(a) for a in arguments):
                return True
        if (
            isinstance(node, ast.Attribute)
            and _is_self(node.value)
            and node.attr in _SELF_AS_A_WHOLE
        ):
            return True
    return False


def _conditional_around(facts: ModuleFacts, node: ast.AST, method: ast.AST) -> ast.AST | None:
    """The branch (or the earlier ``return``) that can keep ``node`` from running when
    ``method`` runs; None when it always runs (a loop body is taken to run)."""
    child, parent = node, facts.parents.get(node)
    while parent is not None:
        if parent is not method and (
            _branches_to(parent, child) or isinstance(parent, flow.SCOPE_TYPES)
        ):
            return parent
        for field in ("body", "orelse", "finalbody"):
            block = getattr(parent, field, None)
            if isinstance(block, list) and child in block:
                exit_ = next((s for s in block[: block.index(child)] if _may_return(s)), None)
                if exit_ is not None:
                    return exit_
        if parent is method:
            return None
        child, parent = parent, facts.parents.get(parent)
    return method


def _branches_to(parent: ast.AST, child: ast.AST) -> bool:
    if isinstance(parent, (ast.If, ast.IfExp)):
        return child is not parent.test
    if isinstance(parent, (ast.match_case, ast.ExceptHandler)):
        return True
    if isinstance(parent, ast.BoolOp):
        return child is not parent.values[0]
    if isinstance(parent, (ast.For, ast.AsyncFor, ast.While, ast.Try)):
        return child in parent.orelse
    if isinstance(parent, ast.comprehension):
        return child in parent.ifs
    if isinstance(parent, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
        return any(g.ifs for g in parent.generators) and child not in parent.generators
    return False


def _may_return(stmt: ast.stmt) -> bool:
    """A ``return`` (or a loop's ``break``/``continue``) inside an earlier statement
    may skip what follows; a ``raise`` does not matter (no loss, no backward)."""
    return any(isinstance(n, ast.Return) for n in flow.walk_local(stmt)) or (
        not isinstance(stmt, (ast.For, ast.AsyncFor, ast.While))
        and any(isinstance(n, (ast.Break, ast.Continue)) for n in flow.walk_local(stmt))
    )


def _is_self_read(node: ast.AST, attr: str) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == attr
        and isinstance(node.ctx, ast.Load)
        and _is_self(node.value)
    )


def _is_self(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


def _class_of(facts: ModuleFacts, node: ast.AST) -> str | None:
    method = facts.enclosing_function(node)
    owner = facts.parents.get(method) if method is not None else None
    return owner.name if isinstance(owner, ast.ClassDef) else None


def _contains(outer: ast.AST, inner: ast.AST) -> bool:
    return any(node is inner for node in ast.walk(outer))
