"""Replacements of model parts: the "replaced" events GG102 reads.

A replacement gives a model, one of its submodules or one of its parameters new
Parameter objects: ``model = Net()``, ``model = copy.deepcopy(model)``, ``model.fc =
nn.Linear(...)`` (or a name holding a new layer: ``head = nn.Linear(...); model.fc =
head``), ``model[2] = ...``, ``model.fc.weight = nn.Parameter(...)``, ``setattr(model,
"fc", ...)``, weight normalisation, and the same done by a same-file function called with
the model (``speedup(model)``), through a local alias there (``inner = m.backbone``), or
on a module-level model it declares ``global``. Which optimizer a replacement concerns is
the rule's question; each replacement carries the expression whose field it replaces
(and the frame of the call that made it) so the rule can ask the semantic model which
object that is.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, replace

from gradguard.analysis import flow
from gradguard.analysis.facts import ModuleFacts
from gradguard.semantic.catalogue.layers import PARAMETERLESS_LAYERS
from gradguard.semantic.limits import CALL_DEPTH
from gradguard.semantic.model import SemanticModel
from gradguard.semantic.objects import UNKNOWN, AbstractObject, ModuleObject
from gradguard.semantic.values import Frame
from gradguard.semantic.workspace import ForeignCall, argument_names, foreign_call

# Wrappers share the wrapped model's parameters: assigning them is not a replacement.
_WRAPPERS = frozenset(
    {
        "torch.nn.DataParallel",
        "torch.nn.parallel.DataParallel",
        "torch.nn.parallel.DistributedDataParallel",
        "torch.nn.parallel.data_parallel.DataParallel",
        "torch.nn.parallel.distributed.DistributedDataParallel",
    }
)
# torch.nn layers without parameters: putting one in place of a layer adds nothing to train.
# Containers are left out: `nn.Sequential(nn.Linear(...))` brings new parameters.
_PARAMETER_FREE_LAYERS = PARAMETERLESS_LAYERS - {
    "Module",
    "ModuleDict",
    "ModuleList",
    "ParameterDict",
    "ParameterList",
    "Sequential",
    "DataParallel",
}
# Weight normalisation registers brand-new Parameters (measured on torch 2.13.0);
# spectral_norm / orthogonal / register_parametrization keep the original Parameter.
_WEIGHT_NORM = {
    "torch.nn.utils.weight_norm": "legacy",
    "torch.nn.utils.weight_norm.weight_norm": "legacy",
    "torch.nn.utils.parametrizations.weight_norm": "parametrization",
}
Function = ast.FunctionDef | ast.AsyncFunctionDef
_CONTAINERS = frozenset({"Sequential", "ModuleList", "ModuleDict"})
# nn.Module methods that return the module itself.
_RETURNS_SELF = frozenset(
    {
        "to",
        "cuda",
        "cpu",
        "double",
        "half",
        "bfloat16",
        "float",
        "train",
        "eval",
        "requires_grad_",
        "share_memory",
        "apply",
        "type",
        "to_empty",
    }
)


@dataclass(frozen=True)
class Replacement:
    """One replacement of a model part, in the terms of the scope that holds it."""

    node: ast.AST  # reported: the assignment, or the call that replaces
    part: str  # dotted name of what is replaced, for matching (``model.fc``)
    part_text: str  # how to spell the new part in code (``model.layers[0]``)
    kind: str  # "model", "copy", "module", "parameter", "weight_norm"
    tensor_name: str = "weight"  # weight_norm's ``name``
    legacy: bool = False  # torch.nn.utils.weight_norm rather than parametrizations
    via: str | None = None  # same-file function that performs it
    via_line: int = 0  # 1-based line of the replacement inside that function
    via_file: str = ""  # the other workspace module that function is in (``utils.py``)
    adds_param_group: bool = False  # that function calls add_param_group itself
    # The expression whose field is replaced (``model`` for ``model.fc = ...``) and the
    # frame it is evaluated in (the parameters of the function that replaces, bound to
    # the call's arguments), for the semantic model to say which object it is.
    owner: ast.expr | None = None
    frame: Frame = ()
    # The new value's objects (the layers it brings), when the model knows them.
    new_objects: frozenset[AbstractObject] = frozenset()
    # Not translated to the caller's names: a local alias in the function
    # (``inner = m.backbone``) or a module-level name it declares ``global``.
    untranslated: bool = False


# -- finding replacements ------------------------------------------------------------------


def replacements_in(facts: ModuleFacts, stmt: ast.stmt, depth: int = 0) -> list[Replacement]:
    """Replacements performed by ``stmt``'s own code (and by same-file functions it calls
    with a model, followed ``CALL_DEPTH`` levels)."""
    found: list[Replacement] = []
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        for target in targets:
            found.extend(_assignment(facts, stmt, target, stmt.value))
    for node in flow.own_nodes(stmt):
        if isinstance(node, ast.Call):
            found.extend(_call(facts, node, depth))
    return found


def _assignment(
    facts: ModuleFacts, stmt: ast.stmt, target: ast.expr, value: ast.expr
) -> list[Replacement]:
    part, part_text = _target_part(facts, target)
    if part is None:
        return []
    owner = target.value if isinstance(target, (ast.Attribute, ast.Subscript)) else None
    whole = isinstance(target, ast.Name)
    if isinstance(value, ast.Call):
        kind = _value_kind(facts, value, part, whole=whole)
        return [Replacement(stmt, part, part_text, kind, owner=owner)] if kind else []
    new = _new_modules(facts, value)
    if not new or whole:
        return []
    return [Replacement(stmt, part, part_text, "module", owner=owner, new_objects=new)]


def _new_modules(facts: ModuleFacts, value: ast.expr) -> frozenset[AbstractObject]:
    """The layers a name or attribute holds when the model knows them all and each
    brings parameters (``head = nn.Linear(...)``; not ``nn.ReLU()``, not unknown)."""
    held = SemanticModel.of(facts).value_of(value)
    if not held or UNKNOWN in held:
        return frozenset()
    for obj in held:
        if not isinstance(obj, ModuleObject):
            return frozenset()
        if obj.torch_layer and (obj.layer in _PARAMETER_FREE_LAYERS or obj.class_name in _WRAPPERS):
            return frozenset()
    return held


def _target_part(facts: ModuleFacts, target: ast.expr) -> tuple[str | None, str]:
    if isinstance(target, (ast.Name, ast.Attribute)):
        dotted = flow.dotted_name(target)
        return dotted, dotted or ""
    if isinstance(target, ast.Subscript):
        container = flow.dotted_name(target.value)
        if container:
            return container + "[]", facts.source.node_text(target)
    return None, ""


def _value_kind(facts: ModuleFacts, value: ast.Call, part: str, *, whole: bool) -> str | None:
    value = _unchained(value)
    qualified = facts.qualify(value.func) or ""
    if qualified == "copy.deepcopy":
        return "copy"
    if not whole and facts.is_parameter_call(value):
        return "parameter"
    if qualified in _WRAPPERS or qualified.rsplit(".", 1)[-1] in _PARAMETER_FREE_LAYERS:
        return None
    if qualified.startswith("torch.nn.") and qualified.endswith(".Sequential") and not value.args:
        return None  # an empty Sequential holds no parameters
    if not facts.is_module_call(value) or _wraps(value, part) or _rebuilds(value, part):
        return None
    return "model" if whole else "module"


def _rebuilds(call: ast.Call, part: str) -> bool:
    """``nn.Sequential(*list(model.classifier.children())[:-1])``: a container of the
    model's own children brings no new parameters."""
    if flow.method_name(call) not in _CONTAINERS and not (
        isinstance(call.func, ast.Name) and call.func.id in _CONTAINERS
    ):
        return False
    root = part.split(".")[0].split("[")[0]
    arguments = [*call.args, *(k.value for k in call.keywords)]
    return bool(arguments) and all(
        any(isinstance(n, ast.Name) and n.id == root for n in ast.walk(a)) for a in arguments
    )


def _unchained(value: ast.Call) -> ast.Call:
    """``Net()`` for ``Net().to(device).train()``: these methods return the module."""
    while (
        flow.method_name(value) in _RETURNS_SELF
        and isinstance(value.func, ast.Attribute)
        and isinstance(value.func.value, ast.Call)
    ):
        value = value.func.value
    return value


def _wraps(call: ast.Call, part: str) -> bool:
    """``Wrapper(model)``: an argument is the replaced object itself (or holds it)."""
    for argument in [*call.args, *(k.value for k in call.keywords)]:
        value = argument.value if isinstance(argument, ast.Starred) else argument
        dotted = flow.dotted_name(value)
        if dotted and (part == dotted or part.startswith((dotted + ".", dotted + "["))):
            return True
    return False


def _call(facts: ModuleFacts, call: ast.Call, depth: int) -> list[Replacement]:
    qualified = facts.qualify(call.func) or ""
    if qualified in _WEIGHT_NORM:
        return _weight_norm(facts, call, legacy=_WEIGHT_NORM[qualified] == "legacy")
    if qualified in ("setattr", "builtins.setattr") or (
        isinstance(call.func, ast.Name) and call.func.id == "setattr"
    ):
        return _setattr(facts, call)
    if isinstance(call.func, ast.Name) and call.func.id in facts.functions and depth < CALL_DEPTH:
        return _through_function(facts, call, facts.functions[call.func.id], depth)
    if isinstance(call.func, ast.Attribute) and depth < CALL_DEPTH:
        method = _same_file_method(facts, call.func)
        if method is not None:
            return _through_function(facts, call, method, depth, receiver=call.func.value)
    foreign = foreign_call(facts, call) if depth < CALL_DEPTH else None
    return _through_foreign(call, foreign) if foreign is not None else []


def _same_file_method(facts: ModuleFacts, func: ast.Attribute) -> Function | None:
    """The same-file method ``receiver.name(...)`` calls, when the model knows the
    receiver's class (``m.resize_embeddings(n)`` with ``m`` an instance of a class here)."""
    if func.attr not in _method_names(facts):
        return None
    semantic = SemanticModel.of(facts)
    methods = {
        semantic.evaluator.heap.method(obj, func.attr) for obj in semantic.value_of(func.value)
    }
    found = methods.pop() if len(methods) == 1 else None
    return found


def _method_names(facts: ModuleFacts) -> frozenset[str]:
    return facts.shared(
        "same-file method names",
        lambda: frozenset(name for info in facts.classes.values() for name in info.methods),
    )


def _weight_norm(facts: ModuleFacts, call: ast.Call, *, legacy: bool) -> list[Replacement]:
    module = call.args[0] if call.args else _keyword(call, "module")
    name_node = call.args[1] if len(call.args) > 1 else _keyword(call, "name")
    if module is None:
        return []
    # ``weight_norm(model.fc)`` or ``weight_norm(model[2])`` (a layer of a Sequential).
    part, part_text = _target_part(facts, module)
    if part is None:
        return []
    tensor_name = "weight"
    if name_node is not None:
        if not (isinstance(name_node, ast.Constant) and isinstance(name_node.value, str)):
            return []
        tensor_name = name_node.value
    return [Replacement(call, part, part_text, "weight_norm", tensor_name, legacy)]


def _setattr(facts: ModuleFacts, call: ast.Call) -> list[Replacement]:
    """``setattr(model, "fc", nn.Linear(...))``."""
    if len(call.args) != 3 or call.keywords:
        return []
    owner, name, value = call.args
    dotted = flow.dotted_name(owner)
    if not dotted or not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
        return []
    if not name.value.isidentifier() or not isinstance(value, ast.Call):
        return []
    part = f"{dotted}.{name.value}"
    kind = _value_kind(facts, value, part, whole=False)
    return [Replacement(call, part, part, kind)] if kind else []


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _through_function(
    facts: ModuleFacts,
    call: ast.Call,
    function: Function,
    depth: int,
    receiver: ast.expr | None = None,
) -> list[Replacement]:
    """Replacements a same-file function (or a method, called on ``receiver``) makes on
    the models it is called with, translated to the caller's names and reported at the
    call."""
    arguments = argument_names(call, function, receiver)
    evaluator = SemanticModel.of(facts).evaluator
    held = evaluator.value_of(receiver) if receiver is not None else None
    frame = evaluator.call_frame(function, call, (), held)
    found = []
    for root, inner in function_replacements(facts, function, depth):
        via_line = inner.via_line or getattr(inner.node, "lineno", 0)
        if inner.untranslated:
            found.append(replace(inner, node=call, via=function.name, via_line=via_line))
            found[-1] = replace(found[-1], frame=inner.frame or frame)
            continue
        if root not in arguments:
            continue
        caller = arguments[root]
        # The caller's names say which object it is; for ``self.attr`` of a method, the
        # receiver does (``m = model.module if ... else model``): the owner as the method
        # spells it (``self.model`` of ``self.model.fc``), ``self`` bound to the receiver.
        of_self = root == _self_name(function, receiver)
        in_method = of_self and inner.owner is not None and not inner.frame
        found.append(
            replace(
                inner,
                node=call,
                part=caller + inner.part[len(root) :],
                part_text=caller + inner.part_text[len(root) :],
                via=function.name,
                via_line=via_line,
                owner=(inner.owner if in_method else receiver) if of_self else None,
                frame=frame if in_method else (),
            )
        )
    return found


def _through_foreign(call: ast.Call, foreign: ForeignCall) -> list[Replacement]:
    """Replacements a function of another workspace module makes on the models it is
    called with (its summary), in the caller's names, reported at the call."""
    arguments = argument_names(call, foreign.summary)
    found = []
    for part in foreign.summary.replaced:
        caller = arguments.get(part.parameter)
        if caller is None:
            continue
        found.append(
            Replacement(
                call,
                caller + part.suffix,
                caller + part.text_suffix,
                part.kind,
                part.tensor_name,
                part.legacy,
                via=foreign.called_as,
                via_line=part.line,
                via_file=foreign.file_name,
                adds_param_group=part.adds_param_group,
            )
        )
    return found


def _self_name(function: Function, receiver: ast.expr | None) -> str | None:
    positional = [*function.args.posonlyargs, *function.args.args]
    return positional[0].arg if receiver is not None and positional else None


# Per file and function: what the function replaces on its parameters. A function
# called from many places is analysed once.


def function_replacements(
    facts: ModuleFacts, function: ast.FunctionDef | ast.AsyncFunctionDef, depth: int
) -> list[tuple[str, Replacement]]:
    """``(parameter name, replacement in the function's terms)`` for replacements of
    parts of the function's parameters, before the parameter is rebound locally."""
    cache: dict[tuple[int, int], list] = facts.shared(function_replacements, dict)
    key = (id(function), depth)
    if key in cache:
        return cache[key]
    cache[key] = []  # recursion guard
    parameters = {a.arg for a in [*function.args.posonlyargs, *function.args.args]}
    parameters |= {a.arg for a in function.args.kwonlyargs}
    statements = facts.statements_of(function)
    adds_groups = any(
        isinstance(node, ast.Call) and flow.method_name(node) == "add_param_group"
        for info in statements
        for node in flow.own_nodes(info.node)
    )
    rebound: set[str] = set()
    found = []
    declared_global = SemanticModel.of(facts).bindings(function).declared_global
    for info in statements:
        for inner in replacements_in(facts, info.node, depth + 1):
            root = inner.part.split(".")[0].split("[")[0]
            if inner.kind in ("model", "copy") and root in declared_global:
                found.append((root, replace(inner, untranslated=True)))
                continue  # ``global model; model = Net()`` replaces the module's model
            if root not in parameters and inner.owner is not None and root not in rebound:
                # ``inner = m.backbone; inner.fc = ...``: the model says what ``inner`` is.
                found.append((root, replace(inner, untranslated=True)))
                continue
            if root not in parameters or root in rebound or inner.kind in ("model", "copy"):
                continue  # a rebound parameter name no longer is the caller's model
            if inner.part == root and inner.kind != "weight_norm":
                continue
            found.append(
                (root, replace(inner, adds_param_group=inner.adds_param_group or adds_groups))
            )
        rebound |= {name for name in parameters if flow.assigns_name(info.node, name)}
    cache[key] = found
    return found
