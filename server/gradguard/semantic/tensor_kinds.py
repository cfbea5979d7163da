"""What autograd kind of tensor a name holds when a statement starts (GG302, GG303).

A name's kind comes from the definition of it that reaches the statement (``bindings``:
the latest earlier one, as the statement sees it; a definition in an exclusive branch
does not count), classified as a module with parameters, a plain tensor, a leaf that
requires grad (``torch.randn(..., requires_grad=True)``, ``nn.Parameter(...)``, a loop
over parameters, ``x.requires_grad_()``), or a non-leaf computed from tensors that
require grad (an operation on them, a module's forward, a same-file function or method
returning one). ``x.requires_grad_()`` / ``x.requires_grad = True`` between that
definition and the statement turns a plain tensor into a leaf that requires grad.
Anything else is None: unknown stays silent.
"""

from __future__ import annotations

import ast

from gradguard.analysis import flow
from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.tensors import (
    Binding,
    Kind,
    Origin,
    contains_non_leaf_creation,
    history_reads,
    is_grad_factory,
    is_requires_grad_call,
    is_true,
)
from gradguard.semantic import control
from gradguard.semantic.bindings import Definition
from gradguard.semantic.catalogue.tensors import (
    ALWAYS_NON_LEAF_METHODS,
    NON_LEAF_ATTRIBUTES,
    PARAMETRIC_LAYER,
)
from gradguard.semantic.catalogue.tensors import MOVE_AND_CAST_METHODS as CONVERT_METHODS
from gradguard.semantic.limits import CALL_DEPTH
from gradguard.semantic.model import SemanticModel
from gradguard.semantic.objects import ModuleObject, ParameterObject

_HISTORY_FREE = frozenset({"grad", "data", "shape", "dtype", "device", "requires_grad", "detach"})


class TensorKinds:
    def __init__(self, facts: ModuleFacts) -> None:
        self.facts = facts
        self.semantic = SemanticModel.of(facts)
        self._before: dict[tuple[str, ast.stmt], Binding | None] = {}
        self._marks: dict[ast.AST, dict[str, list[tuple[int, ast.stmt]]]] = {}
        self._depth = 0

    @classmethod
    def of(cls, facts: ModuleFacts) -> TensorKinds:
        return facts.shared("tensor kinds", lambda: cls(facts))

    def before(self, name: str, statement: ast.stmt) -> Binding | None:
        """The kind ``name`` holds when ``statement`` starts to run, or None."""
        key = (name, statement)
        if key not in self._before:
            self._before[key] = None  # a definition reading itself: unknown
            self._before[key] = self._compute(name, statement)
        return self._before[key]

    def _compute(self, name: str, statement: ast.stmt) -> Binding | None:
        scope = self.facts.enclosing_scope(statement)
        bindings = self.semantic.bindings(scope)
        info = bindings.statements.get(statement)
        if info is None:
            return None
        earlier = [d for d in bindings.reaching(name, statement) if d.order < info.order]
        binding = self._of_definition(earlier[0]) if earlier else None
        since = earlier[0].order if earlier else -1
        for order, mark in self.marks(scope).get(name, []):
            if since < order < info.order and not control.mutually_exclusive(
                self.facts, mark, statement
            ):
                binding = _marked(binding, mark)
        return binding

    def marks(self, scope: flow.Scope) -> dict[str, list[tuple[int, ast.stmt]]]:
        """``{name: [(order, statement)]}`` for ``name.requires_grad_()`` statements and
        ``name.requires_grad = True`` assignments of the scope."""
        if scope not in self._marks:
            found: dict[str, list[tuple[int, ast.stmt]]] = {}
            for info in self.facts.statements_of(scope):
                receiver = _marked_receiver(info.node)
                if receiver is not None:
                    found.setdefault(receiver, []).append((info.order, info.node))
            self._marks[scope] = found
        return self._marks[scope]

    def _of_definition(self, definition: Definition) -> Binding | None:
        statement = definition.statement
        if statement is None or definition.value is None:
            return None
        if definition.kind == "for":
            return self._loop_binding(definition, statement)
        if definition.kind != "assign" or not _binds_plainly(statement, definition.value):
            return None  # unpacked from a call, augmented, ``with``: unknown
        info = self.semantic.bindings(self.facts.enclosing_scope(statement)).statements[statement]
        under_no_grad = flow.is_under_no_grad(info, self.facts.parents)
        return self.classify(definition.name, definition.value, statement, under_no_grad)

    def _loop_binding(self, definition: Definition, statement: ast.stmt) -> Binding | None:
        """``for p in model.parameters()`` (or a name holding parameters): a leaf each time."""
        if not (
            isinstance(statement, (ast.For, ast.AsyncFor))
            and isinstance(statement.target, ast.Name)
            and statement.target.id == definition.name
        ):
            return None
        iterable = statement.iter
        by_spelling = isinstance(iterable, ast.Call) and flow.method_name(iterable) == "parameters"
        elements = self.semantic.evaluator.heap.elements(self.semantic.value_of(iterable))
        if by_spelling or all(isinstance(obj, ParameterObject) for obj in elements):
            return Binding(Kind.GRAD_LEAF, Origin.PARAMETER_LOOP, statement)
        return None

    def classify(
        self, name: str, value: ast.expr, stmt: ast.stmt, under_no_grad: bool
    ) -> Binding | None:
        if isinstance(value, ast.Name):
            return self.before(value.id, stmt)
        if is_grad_factory(self.facts, value):
            return Binding(Kind.GRAD_LEAF, Origin.FACTORY, stmt, value)
        if isinstance(value, ast.Call) and self.facts.is_parameter_call(value):
            return Binding(Kind.GRAD_LEAF, Origin.PARAMETER, stmt, value)
        if is_requires_grad_call(value):
            return self._requires_grad_result(value, stmt)
        if self._is_parametric_module(value, stmt):
            return Binding(Kind.MODULE, Origin.OTHER, stmt, value)
        if under_no_grad:
            return _tensor_or_none(self.facts, value, stmt)
        if contains_non_leaf_creation(self.facts, value):
            return Binding(Kind.COMPUTED, Origin.FACTORY, stmt, value, already_reported=True)
        if self._computes_with_grad(value, stmt):
            rebinds_itself = any(n.id == name for n in history_reads(value))
            return Binding(Kind.COMPUTED, Origin.OTHER, stmt, value, rebinds_itself)
        return self._callee_binding(value, stmt) or _tensor_or_none(self.facts, value, stmt)

    def _requires_grad_result(self, call: ast.expr, stmt: ast.stmt) -> Binding | None:
        """``x.requires_grad_()`` returns ``x``: a module stays a module, and only a visible
        tensor counts as a known one (``m.requires_grad_().to(d)`` is fine on a module)."""
        receiver = call.func.value  # type: ignore[attr-defined]
        if self._is_parametric_module(receiver, stmt):
            return Binding(Kind.MODULE, Origin.OTHER, stmt, call)
        known = _tensor_or_none(self.facts, receiver, stmt) is not None or (
            isinstance(receiver, ast.Name)
            and self._kind(receiver.id, stmt) in (Kind.TENSOR, Kind.GRAD_LEAF)
        )
        origin = Origin.REQUIRES_GRAD_CALL if known else Origin.OTHER
        return Binding(Kind.GRAD_LEAF, origin, stmt, call)

    def _is_parametric_module(self, value: ast.expr, stmt: ast.stmt) -> bool:
        # ``Net().to(device)``: look through moves to the constructor.
        while (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Attribute)
            and value.func.attr in CONVERT_METHODS
        ):
            value = value.func.value
        if isinstance(value, ast.Name):
            return self._kind(value.id, stmt) is Kind.MODULE
        if not isinstance(value, ast.Call):
            return False
        func = value.func
        if isinstance(func, ast.Name) and func.id in self.facts.classes:
            return self.facts.classes[func.id].is_module
        return bool(PARAMETRIC_LAYER.match(self.facts.qualify(func) or ""))

    def _computes_with_grad(self, value: ast.expr, stmt: ast.stmt) -> bool:
        """An operation on tensors known to require grad (or a forward through a module
        with parameters), so its result is a non-leaf."""
        if isinstance(value, ast.Call):
            func = value.func
            if isinstance(func, ast.Name) and self._kind(func.id, stmt) is Kind.MODULE:
                return True
            if self._is_layer_call(value):
                return True
            if flow.method_name(value) in CONVERT_METHODS | ALWAYS_NON_LEAF_METHODS:
                return self._reads_grad_tensor(value, stmt)
            qualified = self.facts.qualify(func) or ""
            last = qualified.rsplit(".", 1)[-1]
            if qualified.startswith("torch.") and last[:1].islower():
                return any(self._reads_grad_tensor(arg, stmt) for arg in value.args)
            return False
        if isinstance(value, (ast.BinOp, ast.UnaryOp, ast.Subscript)) or (
            isinstance(value, ast.Attribute) and value.attr in NON_LEAF_ATTRIBUTES
        ):
            return self._reads_grad_tensor(value, stmt)
        return False

    def _callee_binding(self, value: ast.expr, stmt: ast.stmt) -> Binding | None:
        """A call of a same-file function or method every ``return`` of which is a
        non-leaf (``def scale(self): return self.log_scale.exp()``): a non-leaf here,
        reported already when each was reported where it was made."""
        function = self._callee(value)
        if function is None or self._depth >= CALL_DEPTH or _no_grad_decorated(function):
            return None
        returns = [n for n in flow.walk_local(function) if isinstance(n, ast.Return)]
        if not returns or any(r.value is None for r in returns):
            return None
        self._depth += 1
        try:
            found = [self._returned(r) for r in returns]
        finally:
            self._depth -= 1
        if not all(b is not None and b.kind is Kind.COMPUTED for b in found):
            return None
        reported = all(b.already_reported for b in found if b is not None)
        return Binding(Kind.COMPUTED, Origin.OTHER, stmt, value, reported)

    def _returned(self, ret: ast.Return) -> Binding | None:
        assert ret.value is not None
        info = self.semantic.bindings(self.facts.enclosing_scope(ret)).statements.get(ret)
        if info is None or flow.is_under_no_grad(info, self.facts.parents):
            return None
        return self.classify("", ret.value, ret, under_no_grad=False)

    def _callee(self, value: ast.expr) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        if not isinstance(value, ast.Call):
            return None
        func = value.func
        if isinstance(func, ast.Name):
            return self.facts.functions.get(func.id)
        if not isinstance(func, ast.Attribute):
            return None
        heap = self.semantic.evaluator.heap
        receivers = self.semantic.value_of(func.value)
        methods = {heap.method(obj, func.attr) for obj in receivers}
        if len(methods) != 1:
            return None
        return methods.pop()

    def _kind(self, name: str, stmt: ast.stmt) -> Kind | None:
        binding = self.before(name, stmt)
        return binding.kind if binding is not None else None

    def _reads_grad_tensor(self, expr: ast.AST, stmt: ast.stmt) -> bool:
        if any(
            self._kind(read.id, stmt) in (Kind.GRAD_LEAF, Kind.COMPUTED)
            for read in history_reads(expr)
        ):
            return True
        return any(
            self._is_parameter_field(node) or self._is_layer_call(node)
            for node in flow.walk_local(expr)
        )

    def _is_layer_call(self, node: ast.AST) -> bool:
        """``self.table(ids)`` where ``self.table`` holds a ``torch.nn`` layer with
        parameters (``nn.Embedding``, ``nn.Linear``...): its output requires grad."""
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            return False
        if not (isinstance(node.func.value, ast.Name) and node.func.value.id == "self"):
            return False
        value = self.semantic.value_of(node.func)
        return bool(value) and all(
            isinstance(obj, ModuleObject)
            and obj.torch_layer
            and PARAMETRIC_LAYER.match(obj.class_name) is not None
            for obj in value
        )

    def _is_parameter_field(self, node: ast.AST) -> bool:
        """``self.log_scale`` holding an ``nn.Parameter`` the file shows."""
        if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)):
            return False
        if node.value.id != "self" or node.attr in _HISTORY_FREE:
            return False
        parent = self.facts.parents.get(node)
        if isinstance(parent, ast.Attribute) and parent.attr in _HISTORY_FREE:
            return False
        value = self.semantic.value_of(node)
        return bool(value) and all(isinstance(obj, ParameterObject) for obj in value)


def _no_grad_decorated(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for decorator in function.decorator_list:
        called = decorator.func if isinstance(decorator, ast.Call) else decorator
        if (flow.dotted_name(called) or "").rsplit(".", 1)[-1] in ("no_grad", "inference_mode"):
            return True
    return False


def _binds_plainly(statement: ast.stmt, value: ast.expr) -> bool:
    """``a = v`` / ``a: T = v`` / ``a, b = v1, v2`` (one target list): what the old
    per-scope walk classified; chained and starred targets stay unknown."""
    if isinstance(statement, ast.AnnAssign):
        return statement.value is value
    return isinstance(statement, ast.Assign) and len(statement.targets) == 1


def _tensor_or_none(facts: ModuleFacts, value: ast.expr, stmt: ast.stmt) -> Binding | None:
    if isinstance(value, ast.Call):
        qualified = facts.qualify(value.func) or ""
        if qualified.startswith("torch.") and qualified.rsplit(".", 1)[-1][:1].islower():
            return Binding(Kind.TENSOR, Origin.OTHER, stmt, value)
    return None


def _marked_receiver(stmt: ast.stmt) -> str | None:
    if isinstance(stmt, ast.Expr) and is_requires_grad_call(stmt.value):
        receiver = stmt.value.func.value  # type: ignore[attr-defined]
        return receiver.id if isinstance(receiver, ast.Name) else None
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target = stmt.targets[0]
        if (
            isinstance(target, ast.Attribute)
            and target.attr == "requires_grad"
            and is_true(stmt.value)
            and isinstance(target.value, ast.Name)
        ):
            return target.value.id
    return None


def _marked(previous: Binding | None, mark: ast.stmt) -> Binding | None:
    """What ``x.requires_grad_()`` makes of ``x``: a leaf that requires grad, unless it
    is a module (its own ``requires_grad_``), a non-leaf (it stays one) or one already."""
    if previous is not None and previous.kind in (Kind.MODULE, Kind.COMPUTED, Kind.GRAD_LEAF):
        return previous
    origin = Origin.REQUIRES_GRAD_CALL if previous is not None else Origin.OTHER
    return Binding(Kind.GRAD_LEAF, origin, mark)
