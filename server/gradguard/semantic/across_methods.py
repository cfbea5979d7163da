"""A model and its optimizer kept in an object's fields, across that object's methods.

Two shapes GG102 reads, each proven from the file:

- ``clone()``: a method builds a new instance of its own class from a deep copy of
  ``self._model`` and the same ``self._optimizer`` (``Wrapper(copy.deepcopy(self._model),
  self._optimizer)``), and the class steps that optimizer. A deep copy has new
  Parameter objects, so the shared optimizer never updates the clone's model (measured,
  torch 2.13.0). ``copy.deepcopy(self)`` copies both together and is correct.
- Lightning's hook order: ``Trainer.fit`` calls the module's ``configure_optimizers()``
  inside ``strategy.setup`` and only then every callback's ``on_fit_start(trainer,
  pl_module)`` and the module's own ``on_fit_start()`` (pytorch-lightning 2.6.6,
  ``trainer.py`` ``_run``; ``setup()`` and ``configure_model()`` run before it). A layer
  those hooks replace is not in the optimizer.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from gradguard.analysis import flow
from gradguard.analysis.facts import ClassInfo, ModuleFacts
from gradguard.analysis.optimizers import OptimizerCreation
from gradguard.semantic.control import first_parameter
from gradguard.semantic.model import SemanticModel
from gradguard.semantic.objects import UNKNOWN, InstanceObject, ModuleObject, Value
from gradguard.semantic.per_iteration import passes_unknown_arguments
from gradguard.semantic.replacements import Replacement, replacements_in

Function = ast.FunctionDef | ast.AsyncFunctionDef
_LIGHTNING = ("pytorch_lightning.", "lightning.pytorch.", "lightning.")
# Hooks that run after ``configure_optimizers()`` in a fit (module and callbacks alike).
HOOKS_AFTER_CONFIGURE = ("on_fit_start", "on_train_start", "on_train_epoch_start")
# Calls that (re)build the optimizers from the module as it is now.
_REBUILDS = frozenset({"setup_optimizers", "configure_optimizers"})


@dataclass(frozen=True)
class SharedOptimizer:
    """``Wrapper(copy.deepcopy(self._model), self._optimizer)`` in ``method``, or
    ``new = copy.copy(self); new._model = copy.deepcopy(self._model)``."""

    method: Function
    node: ast.AST  # reported: the optimizer handed over, or the deep copy's assignment
    kept: str  # ``self._optimizer``, shared with the new instance
    copied: str  # ``self._model``, deep-copied
    step: ast.Call  # where the class steps that optimizer


def shared_optimizers(facts: ModuleFacts) -> list[SharedOptimizer]:
    if not facts.mentions("deepcopy"):
        return []
    found: list[SharedOptimizer] = []
    for info in facts.classes.values():
        init = info.methods.get("__init__")
        fields = _parameter_fields(facts, init) if init is not None else {}
        for method in info.methods.values():
            if method is init:
                continue
            found += _shallow_copies(facts, info, method)
            for call in flow.calls_in(method) if fields else ():
                if _makes_own_class(call, info, method) and not passes_unknown_arguments(call):
                    found += _shared(facts, info, init, fields, method, call)  # type: ignore[arg-type]
    return found


def _shallow_copies(facts: ModuleFacts, info: ClassInfo, method: Function) -> list[SharedOptimizer]:
    """``new = copy.copy(self)`` then ``new._model = copy.deepcopy(self._model)``, the
    copy's optimizer field never set in the method."""
    self_name = first_parameter(method)
    copies: dict[str, bool] = {}  # name: shares every field (``copy.copy``)
    stores: dict[str, list[tuple[str, ast.stmt, ast.expr]]] = {}
    for node in ast.walk(method):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target, value = node.targets[0], node.value
        shares = _new_instance(facts, value, info, self_name)
        if isinstance(target, ast.Name) and shares is not None:
            copies[target.id] = shares
        elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
            stores.setdefault(target.value.id, []).append((target.attr, node, value))
    found = []
    for copy_name, shares in copies.items():
        written = {attr: (node, value) for attr, node, value in stores.get(copy_name, [])}
        for attr, (node, value) in written.items():
            if not (
                isinstance(value, ast.Call)
                and facts.qualify(value.func) == "copy.deepcopy"
                and len(value.args) == 1
                and _self_field(value.args[0], self_name) == attr
            ):
                continue
            for optimizer, step in _stepped_with(info, attr).items():
                reported = _kept_optimizer(written, optimizer, node if shares else None, self_name)
                if reported is not None:
                    kept, copied = f"{self_name}.{optimizer}", f"{self_name}.{attr}"
                    found.append(SharedOptimizer(method, reported, kept, copied, step))
    return found


def _new_instance(
    facts: ModuleFacts, value: ast.expr, info: ClassInfo, self_name: str | None
) -> bool | None:
    """True for ``copy.copy(self)`` (every field shared), False for
    ``Learner.__new__(Learner)`` (no field set), None for anything else."""
    if not isinstance(value, ast.Call) or len(value.args) != 1:
        return None
    if facts.qualify(value.func) == "copy.copy":
        return True if _is_name(value.args[0], self_name) else None
    func = value.func
    if (
        isinstance(func, ast.Attribute)
        and func.attr == "__new__"
        and _is_name(func.value, info.name)
        and _is_name(value.args[0], info.name)
    ):
        return False
    return None


def _kept_optimizer(
    written: dict[str, tuple[ast.stmt, ast.expr]],
    optimizer: str,
    copy_store: ast.stmt | None,
    self_name: str | None,
) -> ast.AST | None:
    """Where the new instance keeps the old optimizer: its own store of
    ``self.<optimizer>``, or the model's deep copy when a shallow copy shares it
    unchanged; None when the method gives it another one."""
    if optimizer not in written:
        return copy_store  # ``copy.copy(self)`` shares it; ``__new__`` has none (None)
    node, value = written[optimizer]
    return node if _self_field(value, self_name) == optimizer else None


def _stepped_with(info: ClassInfo, model: str) -> dict[str, ast.Call]:
    """``{field: step call}`` for each ``self.<field>.step()`` in a method that also
    uses ``self.<model>``."""
    found: dict[str, ast.Call] = {}
    for method in info.methods.values():
        self_name = first_parameter(method)
        for call in flow.calls_in(method):
            func = call.func
            if not (isinstance(func, ast.Attribute) and func.attr == "step"):
                continue
            field = _self_field(func.value, self_name)
            if field is not None:
                step = _step_of(info, field, model)
                if step is not None:
                    found.setdefault(field, step)
    return found


def _parameter_fields(facts: ModuleFacts, init: Function) -> dict[str, str]:
    """``{parameter: field}`` for ``self.<field> = <parameter>`` in ``__init__`` when no
    other code of the file stores into that field."""
    self_name = first_parameter(init)
    fields: dict[str, str] = {}
    for stmt in init.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
            passed = _passed_value(value)
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id == self_name
                and passed is not None
                and _only_store(facts, target.attr, stmt)
            ):
                fields[passed] = target.attr
    return fields


def _passed_value(value: ast.expr) -> str | None:
    """The parameter whose value is stored: ``optimizer``, or ``optimizer or SGD(...)``
    (the default only when nothing is passed; an optimizer is always true)."""
    if isinstance(value, ast.BoolOp) and isinstance(value.op, ast.Or) and value.values:
        value = value.values[0]
    return value.id if isinstance(value, ast.Name) else None


def _only_store(facts: ModuleFacts, attr: str, stmt: ast.stmt) -> bool:
    stores = SemanticModel.of(facts).evaluator.heap.stores.get(attr, [])
    return all(statement is stmt for _, statement in stores)


def _makes_own_class(call: ast.Call, info: ClassInfo, method: Function) -> bool:
    """``Wrapper(...)``, ``type(self)(...)``, ``self.__class__(...)``."""
    func = call.func
    self_name = first_parameter(method)
    if isinstance(func, ast.Name):
        return func.id == info.name
    if isinstance(func, ast.Call):
        return (
            isinstance(func.func, ast.Name)
            and func.func.id == "type"
            and len(func.args) == 1
            and _is_name(func.args[0], self_name)
        )
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "__class__"
        and _is_name(func.value, self_name)
    )


def _is_name(node: ast.AST, name: str | None) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _shared(
    facts: ModuleFacts,
    info: ClassInfo,
    init: Function,
    fields: dict[str, str],
    method: Function,
    call: ast.Call,
) -> list[SharedOptimizer]:
    self_name = first_parameter(method)
    copied: ast.Attribute | None = None
    kept: list[ast.Attribute] = []
    for parameter, field in fields.items():
        argument = _argument(call, init, parameter)
        if (
            isinstance(argument, ast.Call)
            and facts.qualify(argument.func) == "copy.deepcopy"
            and len(argument.args) == 1
            and _self_field(argument.args[0], self_name) == field
        ):
            copied = argument.args[0]  # type: ignore[assignment]
        elif isinstance(argument, ast.Attribute) and _self_field(argument, self_name) == field:
            kept.append(argument)
    if copied is None:
        return []
    found = []
    for attribute in kept:
        step = _step_of(info, attribute.attr, copied.attr)
        if step is not None:
            kept_name, copied_name = flow.dotted_name(attribute), flow.dotted_name(copied)
            found.append(
                SharedOptimizer(method, attribute, kept_name or "", copied_name or "", step)
            )
    return found


def _argument(call: ast.Call, init: Function, parameter: str) -> ast.expr | None:
    """What ``call`` passes as ``__init__``'s ``parameter`` (``self`` is not passed)."""
    positional = [a.arg for a in [*init.args.posonlyargs, *init.args.args]][1:]
    if parameter in positional and positional.index(parameter) < len(call.args):
        return call.args[positional.index(parameter)]
    return next((k.value for k in call.keywords if k.arg == parameter), None)


def _self_field(node: ast.AST, self_name: str | None) -> str | None:
    if isinstance(node, ast.Attribute) and _is_name(node.value, self_name):
        return node.attr
    return None


def _step_of(info: ClassInfo, optimizer: str, model: str) -> ast.Call | None:
    """``self.<optimizer>.step()`` in a method of the class that also uses
    ``self.<model>``: the class trains the model with that optimizer."""
    for method in info.methods.values():
        self_name = first_parameter(method)
        uses_model = any(
            isinstance(n, ast.Attribute) and _self_field(n, self_name) == model
            for n in ast.walk(method)
        )
        for call in flow.calls_in(method):
            func = call.func
            if (
                uses_model
                and isinstance(func, ast.Attribute)
                and func.attr == "step"
                and _self_field(func.value, self_name) == optimizer
            ):
                return call
    return None


# -- Lightning hooks --------------------------------------------------------------------


@dataclass(frozen=True)
class LateReplacement:
    """A hook that runs after ``configure_optimizers()`` replaces a part of the model
    whose parameters that optimizer holds."""

    hook: Function
    replacement: Replacement
    creation: OptimizerCreation


def late_replacements(
    facts: ModuleFacts, creations: list[OptimizerCreation]
) -> list[LateReplacement]:
    if not facts.mentions("configure_optimizers"):
        return []
    semantic = SemanticModel.of(facts)
    modules = [
        (info, creation)
        for info in facts.classes.values()
        if _lightning_base(facts, info, "LightningModule")
        for creation in creations
        if creation.scope is info.methods.get("configure_optimizers")
        and creation.params is not None
    ]
    found: list[LateReplacement] = []
    for info, creation in modules:
        module = _self_object(info)
        held: set = set()
        for owner in semantic.parameter_owners(creation.params) - {UNKNOWN}:  # type: ignore[arg-type]
            held |= _reachable(semantic, info, owner)
        if not held:
            continue
        hooks = [(info.methods.get(h), 0) for h in HOOKS_AFTER_CONFIGURE]
        if len(modules) == 1:  # a callback's ``pl_module`` is this module
            hooks += [
                (callback.methods.get(h), 2)
                for callback in facts.classes.values()
                if _lightning_base(facts, callback, "Callback")
                for h in HOOKS_AFTER_CONFIGURE
            ]
        for hook, position in hooks:
            if hook is not None:
                found += _replaced_in(semantic, hook, position, module, held, creation)
    return found


def _lightning_base(facts: ModuleFacts, info: ClassInfo, name: str) -> bool:
    for base in info.node.bases:
        qualified = facts.qualify(base) or ""
        if qualified.startswith(_LIGHTNING) and qualified.rsplit(".", 1)[-1] == name:
            return True
    return False


def _self_object(info: ClassInfo) -> ModuleObject | InstanceObject:
    """What ``self`` holds in the class's methods (an instance when the file does not
    show that Lightning's base is an ``nn.Module``)."""
    if info.is_module:
        return ModuleObject(info.node, info.name)
    return InstanceObject(info.node, info.name)


def _reachable(semantic: SemanticModel, info: ClassInfo, owner: object) -> set:
    """The owner and the layers it is built with; for the module itself seen as an
    instance, the layers its ``__init__`` stores."""
    if not isinstance(owner, InstanceObject) or owner.site is not info.node:
        return semantic.gradients.reachable(owner)  # type: ignore[arg-type]
    found: set = {owner}
    heap = semantic.evaluator.heap
    init = info.methods.get("__init__")
    for attr, stores in heap.stores.items():
        if any(semantic.facts.enclosing_function(s) is init for _, s in stores):
            for inner in heap.field(owner, attr, built=True) - {UNKNOWN}:
                found |= semantic.gradients.reachable(inner)  # type: ignore[arg-type]
    return found


def _replaced_in(
    semantic: SemanticModel,
    hook: Function,
    position: int,
    module: ModuleObject | InstanceObject,
    held: set,
    creation: OptimizerCreation,
) -> list[LateReplacement]:
    parameters = [a.arg for a in [*hook.args.posonlyargs, *hook.args.args]]
    if len(parameters) <= position:
        return []
    root = parameters[position]
    if any(flow.method_name(c) in _REBUILDS for c in flow.calls_in(hook)):
        return []  # the hook builds the optimizers again from the new model
    found = []
    for info in semantic.facts.statements_of(hook):
        for replacement in replacements_in(semantic.facts, info.node):
            owner = replacement.owner
            if owner is None or replacement.via or replacement.kind == "model":
                continue
            value = _value_from(semantic, owner, root, module)
            if value & (held - {UNKNOWN}) and not replacement.new_objects & held:
                found.append(LateReplacement(hook, replacement, creation))
    return found


def _value_from(
    semantic: SemanticModel, expr: ast.expr, root: str, module: ModuleObject | InstanceObject
) -> Value:
    """What ``pl_module.model`` holds with ``root`` (``pl_module``) the module."""
    chain: list[str] = []
    while isinstance(expr, ast.Attribute):
        chain.append(expr.attr)
        expr = expr.value
    if not _is_name(expr, root):
        return frozenset()
    value: Value = frozenset({module})
    heap = semantic.evaluator.heap
    for attr in reversed(chain):
        value = heap.load(value, attr)
    return value
