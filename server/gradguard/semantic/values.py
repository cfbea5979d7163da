"""What an expression holds at the point it is evaluated: the one evaluator of the model.

Names are followed through their reaching definitions (``bindings``); attributes through
the field heap (``heap``); calls of same-file functions and methods through memoised
summaries of their return values, with the arguments of the call bound to the
parameters, to one depth bound for the whole engine (``limits.CALL_DEPTH``). Anything else is
``UNKNOWN``.
"""

from __future__ import annotations

import ast
import dataclasses
from functools import cached_property
from typing import TYPE_CHECKING

from gradguard.analysis import flow, torchnames
from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.optimizers import params_argument
from gradguard.semantic import control, training_objects
from gradguard.semantic.bindings import Definition, ScopeBindings
from gradguard.semantic.catalogue.modules import SELF_RETURNING_METHODS
from gradguard.semantic.catalogue.tensors import LEAF_FACTORIES
from gradguard.semantic.limits import CALL_DEPTH
from gradguard.semantic.objects import (
    EMPTY,
    NONE_VALUE,
    UNKNOWN_VALUE,
    AbstractObject,
    InstanceObject,
    ModuleObject,
    OptimizerObject,
    ParameterIterable,
    ParameterObject,
    TensorObject,
    Value,
)
from gradguard.semantic.param_groups import group_list
from gradguard.semantic.reads import ReadLog

if TYPE_CHECKING:
    from gradguard.semantic.layer_flags import Layers

# How many evaluations may be under way at once before the rest is unknown: a bound far
# below Python's recursion limit, whatever the shape of the file.
MAX_NESTING = 60
_PARAMETER_METHODS = frozenset({"parameters", "named_parameters"})
# Calls that hand back (an iterator over) their last argument's elements.
_PASS_THROUGH = frozenset({"list", "tuple", "iter", "sorted", "reversed", "filter"})
_MATERIALISERS = frozenset({"list", "tuple", "sorted"})  # a list: iterable again and again
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
_CHAINS = frozenset({"itertools.chain", "itertools.chain.from_iterable"})
# A frame binds a summarised function's parameters to the caller's argument values.
Frame = tuple[tuple[str, Value], ...]


class Evaluator:
    def __init__(self, facts: ModuleFacts) -> None:
        self.facts = facts
        self._bindings: dict[ast.AST, ScopeBindings] = {}
        self._memo: dict[tuple[ast.AST, Frame], Value] = {}
        self._depth = 0
        self._nesting = 0
        self.reads = ReadLog.of(facts)
        from gradguard.semantic.heap import Heap  # the heap evaluates through us

        self.heap = Heap(self)

    @cached_property
    def layers(self) -> Layers:
        """Layers built through configuration (``norm_layer(8)``) and their flags."""
        from gradguard.semantic.layer_flags import Layers

        return Layers(self)

    def bindings(self, scope: flow.Scope) -> ScopeBindings:
        if scope not in self._bindings:
            self._bindings[scope] = ScopeBindings(self.facts, scope)
        return self._bindings[scope]

    def value_of(self, expr: ast.AST, frame: Frame = ()) -> Value:
        key = (expr, frame)
        reads = self.reads
        if key in self._memo:
            if reads is not None:
                reads.reuse(expr, key)
            return self._memo[key]
        if self._nesting >= MAX_NESTING:
            return UNKNOWN_VALUE  # a long chain (``x = x + 1`` a thousand times)
        self._memo[key] = UNKNOWN_VALUE  # a cycle through this expression: unknown
        self._nesting += 1
        if reads is not None:
            reads.enter(expr)
        try:
            self._memo[key] = self._evaluate(expr, frame)
        finally:
            self._nesting -= 1
            if reads is not None:
                reads.leave(expr, key)
        return self._memo[key]

    # -- expressions ----------------------------------------------------------------

    def _evaluate(self, expr: ast.AST, frame: Frame) -> Value:
        if isinstance(expr, ast.Constant):
            return NONE_VALUE if expr.value is None else UNKNOWN_VALUE
        if isinstance(expr, ast.Name):
            return self._name(expr, frame)
        if isinstance(expr, ast.NamedExpr):
            return self.value_of(expr.value, frame)
        if isinstance(expr, ast.IfExp):
            return self.value_of(expr.body, frame) | self.value_of(expr.orelse, frame)
        if isinstance(expr, ast.BoolOp):
            return frozenset().union(*(self.value_of(v, frame) for v in expr.values))
        if isinstance(expr, ast.Attribute):
            return self.heap.load(self.value_of(expr.value, frame), expr.attr, expr)
        if isinstance(expr, ast.Subscript):
            return self.heap.element(self.value_of(expr.value, frame), expr.slice)
        if isinstance(expr, ast.Call):
            return self._call(expr, frame)
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
            return self._joined(expr, [expr.left, expr.right], frame)
        groups = group_list(expr)
        if groups is not None:  # ``[{"params": ...}, ...]``
            return frozenset({groups})
        if isinstance(expr, (ast.List, ast.Tuple)) and expr.elts:
            parts = [e.value if isinstance(e, ast.Starred) else e for e in expr.elts]
            return self._joined(expr, parts, frame)
        if isinstance(expr, (ast.ListComp, ast.GeneratorExp)):
            return self._comprehension(expr, frame)
        return UNKNOWN_VALUE

    def _name(self, name: ast.Name, frame: Frame) -> Value:
        for bound, value in frame:
            if bound == name.id:
                return value
        generator = self.comprehension_binding(name)
        if generator is not None:
            return self.heap.elements(self.value_of(generator.iter, frame))
        statement = self.facts.enclosing_statement(name)
        return self.name_value(name.id, statement, self.facts.enclosing_scope(name), frame)

    def comprehension_binding(self, name: ast.Name) -> ast.comprehension | None:
        """The ``for op in self.ops`` of a comprehension around ``name`` that binds it
        (the innermost; a generator's own target is not bound in its iterable)."""
        child: ast.AST = name
        parent = self.facts.parents.get(name)
        from_iter: ast.comprehension | None = None
        while isinstance(parent, (ast.expr, ast.comprehension)):
            if isinstance(parent, ast.comprehension):
                from_iter = parent if child is parent.iter else None
            elif isinstance(parent, _COMPREHENSIONS):
                found = None
                for generator in parent.generators:
                    if generator is from_iter:
                        break
                    target = generator.target
                    if isinstance(target, ast.Name) and target.id == name.id:
                        found = generator
                    if generator is child:
                        break
                if found is not None:
                    return found
            child, parent = parent, self.facts.parents.get(parent)
        return None

    def name_value(
        self, name: str, statement: ast.stmt | None, scope: flow.Scope, frame: Frame = ()
    ) -> Value:
        """What ``name`` holds when ``statement`` (of ``scope``) runs."""
        bindings = self.bindings(scope)
        if statement is not None and bindings.is_local(name):
            definitions = bindings.reaching(name, statement)
        elif statement is not None and isinstance(scope, ast.Module):
            definitions = bindings.reaching(name, statement) + self._rebound_globally(name)
        else:  # a global read in a function: any module-level definition
            definitions = self.bindings(self.facts.tree).definitions.get(name, [])
            definitions = definitions + self._rebound_globally(name)
        if not definitions:
            return UNKNOWN_VALUE
        return frozenset().union(*(self.definition_value(d, frame) for d in definitions))

    def _rebound_globally(self, name: str) -> list[Definition]:
        """Definitions of ``name`` in functions that declare it ``global``: a call of
        such a function rebinds the module's name (``global model; model = Net()``)."""
        if not self.facts.mentions("global"):
            return []
        found: list[Definition] = []
        for scope in self.facts.scopes[1:]:
            bindings = self.bindings(scope)
            if name in bindings.declared_global:
                found += bindings.definitions.get(name, [])
        return found

    def definition_value(self, definition: Definition, frame: Frame = ()) -> Value:
        kind = definition.kind
        if kind == "parameter":
            return self._parameter(definition)
        if definition.value is None or kind in ("with", "import", "def"):
            return UNKNOWN_VALUE
        value = self.value_of(definition.value, frame)
        if kind == "for":
            return self.heap.elements(value)
        if kind == "augment" and definition.statement is not None:
            before = self.bindings(self.facts.enclosing_scope(definition.statement)).reaching(
                definition.name, definition.statement
            )
            earlier = frozenset().union(*(self.definition_value(d, frame) for d in before))
            return _join_iterables(definition.statement, [earlier, value])
        return value

    def _parameter(self, definition: Definition) -> Value:
        """``self`` of a same-file class's method: the class's instance. Anything else
        comes from callers we do not see here: unknown."""
        function = definition.function
        if function is None or isinstance(function, ast.Lambda):
            return UNKNOWN_VALUE
        owner = control.self_of_method(self.facts, function, definition.name)
        if owner is not None:
            info = self.facts.classes.get(owner.name)
            if info is not None and info.is_module:
                return frozenset({ModuleObject(owner, owner.name)})
            return frozenset({InstanceObject(owner, owner.name)})
        return UNKNOWN_VALUE | self._passed_in_file(function, definition.name)

    def _passed_in_file(self, function: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> Value:
        """What the file's own calls of a module-level function pass as ``name``
        (``train_one_epoch(model, loader)``); other modules may pass anything else."""
        if self.facts.functions.get(function.name) is not function or self._depth >= CALL_DEPTH:
            return EMPTY
        found: set[AbstractObject] = set()
        self._depth += 1
        try:
            for call in self.heap.calls_of.get(function.name, []):
                for bound, value in self.call_frame(function, call, (), None):
                    if bound == name:
                        found |= value
        finally:
            self._depth -= 1
        return frozenset(found)

    def read(self, node: ast.AST) -> None:
        if self.reads is not None:
            self.reads.read(node)

    def _joined(self, site: ast.AST, parts: list[ast.expr], frame: Frame) -> Value:
        return _join_iterables(site, [self.value_of(p, frame) for p in parts])

    def _comprehension(self, expr: ast.ListComp | ast.GeneratorExp, frame: Frame) -> Value:
        """``[p for p in model.parameters() if ...]``: the same parameters (fewer)."""
        if len(expr.generators) != 1:
            return UNKNOWN_VALUE
        generator = expr.generators[0]
        if not (
            isinstance(expr.elt, ast.Name) and flow.dotted_name(generator.target) == expr.elt.id
        ):
            return UNKNOWN_VALUE
        source = self.value_of(generator.iter, frame)
        owners = frozenset(o for i in source if isinstance(i, ParameterIterable) for o in i.owners)
        if not owners or any(not isinstance(i, ParameterIterable) for i in source):
            return UNKNOWN_VALUE
        one_shot = isinstance(expr, ast.GeneratorExp)
        trainable = _tests_requires_grad(generator.ifs) or all(
            i.trainable  # type: ignore[attr-defined]
            for i in source
        )
        return frozenset({ParameterIterable(expr, owners, one_shot, trainable=trainable)})

    # -- calls ------------------------------------------------------------------------

    def _call(self, call: ast.Call, frame: Frame) -> Value:
        func = call.func
        facts = self.facts
        method = flow.method_name(call)
        if isinstance(func, ast.Attribute) and method in _PARAMETER_METHODS:
            owners = self.value_of(func.value, frame)
            named = method == "named_parameters"
            return frozenset({ParameterIterable(call, owners, True, named)})
        if isinstance(func, ast.Attribute) and method in torchnames.MOVE_METHODS:
            receiver = self.value_of(func.value, frame)
            if receiver and all(isinstance(o, ModuleObject) for o in receiver):
                return receiver  # a module moves in place and returns itself
            if receiver and all(isinstance(o, TensorObject) for o in receiver):
                return frozenset(_moved_tensor(call, o) for o in receiver)  # type: ignore[arg-type]
            return UNKNOWN_VALUE
        if isinstance(func, ast.Name) and func.id in _PASS_THROUGH and call.args:
            passed = self.value_of(call.args[-1], frame)
            if func.id == "filter" and _tests_requires_grad(call.args[:1]):
                passed = frozenset(_trainable(obj) for obj in passed)
            if func.id in _MATERIALISERS:
                return frozenset(_materialised(call, obj) for obj in passed)
            return passed
        qualified = facts.qualify(func) or ""
        if qualified in _CHAINS:
            return self._joined(call, list(call.args), frame)
        if facts.is_parameter_call(call):
            return frozenset({ParameterObject(call)})
        if facts.is_optimizer_call(call):
            params = params_argument(call)
            held = self.value_of(params, frame) if params is not None else UNKNOWN_VALUE
            return frozenset({OptimizerObject(call, held)})
        if isinstance(func, ast.Name) and func.id in facts.functions:
            return self._summary(facts.functions[func.id], call, frame, None)
        if isinstance(func, ast.Name) and func.id in facts.classes:
            info = facts.classes[func.id]
            self.read(info.node)  # its bases say whether it is a Module
            if info.is_module:
                return frozenset({ModuleObject(call, func.id)})
            return frozenset({InstanceObject(call, func.id)})
        if torchnames.is_module_class_qualname(qualified):
            return frozenset({ModuleObject(call, qualified, torch_layer=True)})
        made = training_objects.made_by(facts, call, qualified) if qualified else None
        if made is not None:
            return frozenset({made})  # a GradScaler, a scheduler, an Accelerator
        if qualified.startswith("torch.") and qualified.count(".") == 1:
            return self._factory(call, qualified.split(".")[1])
        if qualified and torchnames.is_model_factory_qualname(qualified):
            return frozenset({ModuleObject(call, qualified)})  # torchvision.models.resnet18()
        if qualified and facts.is_module_call(call):  # an imported model class jedi resolved
            return frozenset({ModuleObject(call, qualified)})
        if isinstance(func, ast.Attribute):
            return self._method_call(call, func, frame)
        return self._configured_layer(call)

    def _configured_layer(self, call: ast.Call) -> Value:
        """``norm_layer(8)`` where ``norm_layer`` holds ``nn.BatchNorm2d`` or a partial of it."""
        built = self.layers.built_by(call)
        return frozenset(ModuleObject(call, q, torch_layer=True) for q, _ in built) or UNKNOWN_VALUE

    def _factory(self, call: ast.Call, name: str) -> Value:
        if name not in LEAF_FACTORIES:
            return UNKNOWN_VALUE
        flag = next((k.value for k in call.keywords if k.arg == "requires_grad"), None)
        if flag is None:
            requires: bool | None = False
        elif isinstance(flag, ast.Constant) and isinstance(flag.value, bool):
            requires = flag.value
        else:
            requires = None
        return frozenset({TensorObject(call, leaf=True, requires_grad=requires)})

    def _method_call(self, call: ast.Call, func: ast.Attribute, frame: Frame) -> Value:
        """``self.build(...)`` / ``trainer.make_model()`` on a same-file class instance."""
        receiver = self.value_of(func.value, frame)
        results: set[AbstractObject] = set()
        for obj in receiver:
            method = self.heap.method(obj, func.attr)
            if method is None and isinstance(obj, ModuleObject):
                if func.attr not in SELF_RETURNING_METHODS:
                    return self._configured_layer(call)  # `self.norm(8)`
                results.add(obj)  # ``model.train()`` is ``model``
                continue
            if method is None:
                return self._configured_layer(call)  # `cfg.norm(8)`
            results |= self._summary(method, call, frame, frozenset({obj}))
        return frozenset(results) or UNKNOWN_VALUE

    def _summary(
        self,
        function: ast.FunctionDef | ast.AsyncFunctionDef,
        call: ast.Call,
        frame: Frame,
        receiver: Value | None,
    ) -> Value:
        """The union of the function's return values, its parameters bound to the call's
        arguments (memoised per argument values; ``UNKNOWN`` past ``limits.CALL_DEPTH``)."""
        if self._depth >= CALL_DEPTH:
            return UNKNOWN_VALUE
        inner = self.call_frame(function, call, frame, receiver)
        self.read(function)  # without a return, its body still says None
        returns = [n.value for n in flow.walk_local(function) if isinstance(n, ast.Return)]
        if not returns:
            return NONE_VALUE
        self._depth += 1
        try:
            values = [self.value_of(r, inner) if r is not None else NONE_VALUE for r in returns]
        finally:
            self._depth -= 1
        return frozenset().union(*values)

    def call_frame(
        self,
        function: ast.FunctionDef | ast.AsyncFunctionDef,
        call: ast.Call,
        frame: Frame,
        receiver: Value | None,
    ) -> Frame:
        """The callee's parameters bound to the values of the call's arguments."""
        names = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
        bound: dict[str, Value] = {}
        if receiver is not None and names:
            bound[names.pop(0)] = receiver
        for name, argument in zip(names, call.args, strict=False):
            if isinstance(argument, ast.Starred):
                break
            bound[name] = self.value_of(argument, frame)
        keyword_names = set(names) | {a.arg for a in function.args.kwonlyargs}
        for keyword in call.keywords:
            if keyword.arg in keyword_names:
                bound[keyword.arg] = self.value_of(keyword.value, frame)
        return tuple(sorted(bound.items(), key=lambda item: item[0]))


def _join_iterables(site: ast.AST, parts: list[Value]) -> Value:
    """``list(a.parameters()) + list(b.parameters())``: one list of both owners' parameters."""
    owners: set[AbstractObject] = set()
    named: set[bool] = set()
    trainable = True
    for part in parts:
        for obj in part:
            if not isinstance(obj, ParameterIterable):
                return UNKNOWN_VALUE
            owners |= obj.owners
            named.add(obj.named)
            trainable = trainable and obj.trainable
    if not owners or len(named) != 1:
        return UNKNOWN_VALUE
    joined = ParameterIterable(site, frozenset(owners), False, named.pop(), trainable)
    return frozenset({joined})


def _materialised(call: ast.Call, obj: AbstractObject) -> AbstractObject:
    """``list(model.parameters())``: the same parameters, no longer a one-shot generator."""
    if isinstance(obj, ParameterIterable):
        return ParameterIterable(call, obj.owners, False, obj.named, obj.trainable)
    return obj


def _tests_requires_grad(conditions: list[ast.expr]) -> bool:
    """``if p.requires_grad`` / ``lambda p: p.requires_grad``: frozen parameters left out."""
    return any(
        isinstance(node, ast.Attribute) and node.attr == "requires_grad"
        for condition in conditions
        for node in ast.walk(condition)
    )


def _trainable(obj: AbstractObject) -> AbstractObject:
    if isinstance(obj, ParameterIterable):
        return dataclasses.replace(obj, trainable=True)
    return obj


def _moved_tensor(call: ast.Call, tensor: TensorObject) -> TensorObject:
    """A copy on another device or dtype: still a leaf when it does not require grad
    (autograd records no history for it); a non-leaf when it does (and it changed)."""
    if tensor.requires_grad is False:
        return TensorObject(call, leaf=True, requires_grad=False)
    return TensorObject(call, leaf=None, requires_grad=tensor.requires_grad)
