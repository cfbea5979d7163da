"""Classes of other workspace modules, summarised like their functions (``semantic/workspace.py``).

``from trainer import Trainer`` then ``trainer = Trainer(model)``: calling the class runs
its ``__init__``, summarised by its effects on its parameters (``self`` left out), plus
what it keeps: ``self.model = model`` (a field holding a parameter) and
``self.optimizer = SGD(self.model.parameters())`` (a field holding an optimizer over a
parameter's parameters). Each other method is summarised with its first parameter as the
receiver (``trainer.replace_head(3)`` replaces ``trainer.model.fc``) and, per field
``__init__`` sets, whether the method first uses it or assigns it again (through the
methods it calls on ``self``, a few levels), so the caller can tell that ``trainer.fit()``
steps the optimizer ``__init__`` built.

At a call site, :func:`foreign_method` finds the summary of ``x.method(...)`` when every
definition of ``x`` that reaches the call is a construction of such a class.
"""

from __future__ import annotations

import ast

from gradguard.analysis import flow
from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.optimizers import models_in, params_argument
from gradguard.semantic.catalogue.modules import MODULE_ATTRIBUTES
from gradguard.semantic.limits import METHOD_DEPTH
from gradguard.semantic.workspace import (
    BuiltOptimizer,
    ClassSummary,
    ForeignCall,
    FunctionSummary,
    summarise_function,
)

Function = ast.FunctionDef | ast.AsyncFunctionDef


def class_summary(facts: ModuleFacts, node: ast.ClassDef) -> ClassSummary:
    methods = {
        m.name: m for m in node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    init = methods.get("__init__")
    self_name = _first(init) if init is not None else None
    if init is not None and self_name is not None:
        constructor = summarise_function(facts, init)
        fields, optimizers = _kept(facts, init, self_name)
    else:  # ``object.__init__``: nothing is passed, nothing kept
        constructor = FunctionSummary(node.name, ("",), ())
        fields, optimizers = {}, {}
    # Fields that may hold an optimizer: one ``__init__`` builds, or a parameter that says so.
    kept = set(optimizers) | {f for f, parameter in fields.items() if "opt" in parameter.lower()}
    info = facts.classes.get(node.name)
    summaries = {
        name: _method(facts, method, methods, kept)
        for name, method in methods.items()
        if name != "__init__"
        and not name.startswith("__")
        and _first(method) is not None
        # a cost gate: a layer's methods (``forward``) are not helpers anyone calls
        and not (info is not None and info.node is node and info.is_module)
    }
    return ClassSummary(
        node.name,
        constructor.positional[1:],
        constructor.keyword_only,
        tuple(p for p in constructor.replaced if p.parameter != self_name),
        tuple(m for m in constructor.moves if m.parameter != self_name),
        constructor.adds_param_groups - {self_name or ""},
        methods=summaries,
        fields=fields,
        optimizer_fields=optimizers,
    )


def _kept(
    facts: ModuleFacts, init: Function, self_name: str
) -> tuple[dict[str, str], dict[str, BuiltOptimizer]]:
    """``self.model = model`` and ``self.optimizer = SGD(self.model.parameters())`` in
    ``__init__``'s own statements (a field assigned once there)."""
    parameters = {a.arg for a in [*init.args.posonlyargs, *init.args.args, *init.args.kwonlyargs]}
    fields: dict[str, str] = {}
    optimizers: dict[str, BuiltOptimizer] = {}
    assigned: dict[str, int] = {}
    for info in facts.statements_of(init):
        stmt = info.node
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1):
            continue
        target = stmt.targets[0]
        if not (isinstance(target, ast.Attribute) and _is_name(target.value, self_name)):
            continue
        assigned[target.attr] = assigned.get(target.attr, 0) + 1
        value = stmt.value
        if isinstance(value, ast.BoolOp) and isinstance(value.op, ast.Or):
            value = value.values[0]  # ``optimizer or SGD(...)``: what the caller passes
        if isinstance(value, ast.Name) and value.id in parameters:
            fields[target.attr] = value.id
        elif isinstance(value, ast.Call) and facts.is_optimizer_call(value):
            built = _built_from(value, fields, parameters, self_name)
            if built is not None:
                optimizers[target.attr] = built
    once = {f for f, count in assigned.items() if count == 1}
    return (
        {f: p for f, p in fields.items() if f in once},
        {f: b for f, b in optimizers.items() if f in once},
    )


def _built_from(
    call: ast.Call, fields: dict[str, str], parameters: set[str], self_name: str
) -> BuiltOptimizer | None:
    """The parameter whose parameters the optimizer holds (``model``, or ``self.model``
    holding it), with the part below it (``.backbone``)."""
    params = params_argument(call)
    owners = sorted(models_in(params)) if params is not None else []
    if len(owners) != 1:
        return None
    root, _, rest = owners[0].partition(".")
    suffix = f".{rest}" if rest else ""
    if root in parameters and root != self_name:
        return BuiltOptimizer(root, suffix, call.lineno)
    field, _, below = rest.partition(".")
    if root == self_name and field in fields:
        return BuiltOptimizer(fields[field], f".{below}" if below else "", call.lineno)
    return None


def _method(
    facts: ModuleFacts, method: Function, methods: dict[str, Function], kept: set[str]
) -> FunctionSummary:
    summary = summarise_function(facts, method)
    receiver = summary.positional[0]
    touches = tuple(
        (field, touch)
        for field in sorted(kept)
        if (touch := first_touch(facts, method, field, methods, 0)) is not None
    )
    return FunctionSummary(
        summary.name,
        summary.positional[1:],
        summary.keyword_only,
        summary.replaced,
        summary.moves,
        summary.adds_param_groups,
        summary.optimizers,
        receiver=receiver,
        touches=touches,
    )


def first_touch(
    facts: ModuleFacts, method: Function, field: str, methods: dict[str, Function], depth: int
) -> str | None:
    """ "use" when the method reads ``self.<field>`` before assigning it, "rebuild" when
    it assigns it first, following the methods it calls on ``self``."""
    self_name = _first(method)
    for info in facts.statements_of(method):
        stmt = info.node
        if isinstance(stmt, ast.Assign) and any(
            _self_field(t, self_name) == field for t in stmt.targets
        ):
            reads = any(_self_field(n, self_name) == field for n in ast.walk(stmt.value))
            return "use" if reads else "rebuild"
        for node in flow.own_nodes(stmt):
            if _self_field(node, self_name) == field:
                return "use"
            if (
                depth < METHOD_DEPTH
                and isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and _is_name(node.func.value, self_name)
                and node.func.attr in methods
            ):
                inner = methods[node.func.attr]
                touch = first_touch(facts, inner, field, methods, depth + 1)
                if touch is not None:
                    return touch
    return None


def foreign_method(facts: ModuleFacts, call: ast.Call) -> ForeignCall | None:
    """``trainer.replace_head(3)`` where every definition of ``trainer`` reaching the call
    is ``Trainer(...)`` of another workspace module's class: that method's summary."""
    from gradguard.semantic.model import SemanticModel

    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr in MODULE_ATTRIBUTES:
        return None  # a cost gate: ``model.train()`` / ``.to()`` never look a class up
    if isinstance(func.value, ast.Call):  # ``Surgeon().replace_head(model)``
        constructions: list[ast.expr | None] = [func.value]
        receiver = f"{flow.dotted_name(func.value.func)}()"
    elif isinstance(func.value, ast.Name):
        statement = facts.enclosing_statement(call)
        if statement is None:
            return None
        definitions = SemanticModel.of(facts).reaching(func.value.id, statement)
        constructions = [d.value for d in definitions if d.kind == "assign"]
        if not constructions or len(constructions) != len(definitions):
            return None
        receiver = func.value.id
    else:
        return None
    found: dict[int, ForeignCall] = {}
    for value in constructions:
        made = constructed_class(facts, value) if isinstance(value, ast.Call) else None
        if made is None or not isinstance(made.summary, ClassSummary):
            return None  # also a function's result: only class-like names are looked up
        found[id(made.summary)] = made
    if len(found) != 1:
        return None
    made = found.popitem()[1]
    method = made.summary.methods.get(func.attr)  # type: ignore[attr-defined]
    if method is None:
        return None
    return ForeignCall(method, made.file_name, f"{receiver}.{func.attr}")


def constructed_class(facts: ModuleFacts, call: ast.Call) -> ForeignCall | None:
    """``Trainer(model)`` of another workspace module's class (a capitalised name)."""
    from gradguard.semantic.workspace import foreign_call

    return foreign_call(facts, call) if _class_like(call.func) else None


def drives(facts: ModuleFacts, node: ast.Assign, target: str) -> bool:
    """``trainer = Trainer(...)`` whose scope later calls a method on ``trainer`` that is
    not an ``nn.Module`` one (``trainer.fit()``, not ``model.train()``): a cost gate, so a
    module is summarised for an object the code drives, not for every model or dataset."""
    if not (isinstance(node.value, ast.Call) and _class_like(node.value.func)):
        return False
    calls = facts.shared(drives, lambda: _driving_calls(facts))
    scope = facts.enclosing_scope(node)
    return any(s is scope and line > node.lineno for s, line in calls.get(target, ()))


def _driving_calls(facts: ModuleFacts) -> dict[str, list[tuple[object, int]]]:
    """``{name: [(scope, line), ...]}`` for ``name.method(...)`` calls of methods that are
    not ``nn.Module``'s."""
    found: dict[str, list[tuple[object, int]]] = {}
    for call in facts.nodes_of(ast.Call):
        func = call.func  # type: ignore[attr-defined]
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.attr not in MODULE_ATTRIBUTES
        ):
            scope = facts.enclosing_scope(call)
            found.setdefault(func.value.id, []).append((scope, call.lineno))  # type: ignore[attr-defined]
    return found


def _class_like(func: ast.expr) -> bool:
    """``Trainer`` / ``trainers.Trainer``: a capitalised name, as classes are spelled."""
    dotted = flow.dotted_name(func)
    return bool(dotted) and dotted.rsplit(".", 1)[-1][:1].isupper()  # type: ignore[union-attr]


def _first(function: Function) -> str | None:
    positional = [*function.args.posonlyargs, *function.args.args]
    return positional[0].arg if positional else None


def _is_name(node: ast.AST, name: str | None) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _self_field(node: ast.AST, self_name: str | None) -> str | None:
    if isinstance(node, ast.Attribute) and _is_name(node.value, self_name):
        return node.attr
    return None
