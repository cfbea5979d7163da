"""Which registered parameter a computed name reaches: ``setattr(layer, name, value)``
with ``name`` a literal, or a loop variable over ``["weight", "bias"]``, over
``layer.named_parameters()`` or over ``layer._parameters`` (the weight-loading,
pruning and quantisation loops). Only names the file proves count: a loop over a
same-file model's ``named_parameters()`` yields dotted names (``fc.weight``), which
``setattr`` stores as plain attributes, so it is left alone.
"""

from __future__ import annotations

import ast

from gradguard.analysis import torchnames
from gradguard.semantic.catalogue.layers import layer_has_parameter
from gradguard.semantic.model import SemanticModel
from gradguard.semantic.objects import ModuleObject, ParameterIterable, Value
from gradguard.semantic.registered import RegisteredParameters

# Parameters a layer always registers (no constructor flag removes them), when it has
# them at all: the first name its ``named_parameters()`` yields.
_ALWAYS_FIRST = ("weight", "weight_ih_l0")
_LISTS = frozenset({"list", "tuple", "sorted"})


def reached_parameter(
    model: SemanticModel, base: ast.expr, name: ast.expr, at: ast.stmt
) -> tuple[str, bool] | None:
    """``(parameter name, from a loop)``: a registered parameter of what ``base`` holds
    that ``name`` certainly takes when ``at`` runs; None when none is proven."""
    registered = RegisteredParameters.of(model)
    if isinstance(name, ast.Constant) and isinstance(name.value, str):
        return (name.value, False) if registered.is_parameter(base, name.value, at) else None
    if not isinstance(name, ast.Name):
        return None
    definitions = model.reaching(name.id, at)
    if len(definitions) != 1 or not isinstance(loop := definitions[0].statement, ast.For):
        return None
    modules = registered.modules(base, at)
    if not modules:
        return None
    iterable = _unwrapped(loop.iter)
    if isinstance(loop.target, ast.Name):
        if isinstance(iterable, (ast.List, ast.Tuple)):
            literals = [e.value for e in iterable.elts if isinstance(e, ast.Constant)]
            strings = [v for v in literals if isinstance(v, str)]
            found = next((s for s in strings if registered.is_parameter(base, s, at)), None)
            return (found, True) if found is not None else None
        owners = _parameters_dict_owner(registered, iterable, "keys", loop)
    elif _pair_with(loop.target, name.id):
        owners = _named_parameters_owners(model, registered, iterable, loop)
        owners = owners or _parameters_dict_owner(registered, iterable, "items", loop)
    else:
        return None
    if owners != modules:
        return None
    first = {_first_parameter(obj) for obj in modules}
    only = first.pop() if len(first) == 1 else None
    return (only, True) if only is not None else None


def _pair_with(target: ast.expr, name: str) -> bool:
    """``for name, value in ...`` (the name first)."""
    return (
        isinstance(target, ast.Tuple)
        and len(target.elts) == 2
        and isinstance(target.elts[0], ast.Name)
        and target.elts[0].id == name
    )


def _unwrapped(iterable: ast.expr) -> ast.expr:
    """``list(x)`` / ``tuple(x)`` / ``sorted(x)``: ``x``."""
    while (
        isinstance(iterable, ast.Call)
        and isinstance(iterable.func, ast.Name)
        and iterable.func.id in _LISTS
        and len(iterable.args) == 1
    ):
        iterable = iterable.args[0]
    return iterable


def _named_parameters_owners(
    model: SemanticModel, registered: RegisteredParameters, iterable: ast.expr, loop: ast.For
) -> Value | None:
    """The modules whose ``named_parameters()`` the loop runs over."""
    func = iterable.func if isinstance(iterable, ast.Call) else None
    if isinstance(func, ast.Attribute) and func.attr == "named_parameters":
        return registered.modules(func.value, loop)
    value = model.value_of(iterable)  # a variable holding them
    if len(value) != 1 or not isinstance(obj := next(iter(value)), ParameterIterable):
        return None
    return obj.owners if obj.named else None


def _parameters_dict_owner(
    registered: RegisteredParameters, iterable: ast.expr, view: str, loop: ast.For
) -> Value | None:
    """The owner of ``<owner>._parameters`` (``.keys()`` / ``.items()``, by ``view``)."""
    if isinstance(iterable, ast.Call) and not iterable.args and not iterable.keywords:
        func = iterable.func
        if not (isinstance(func, ast.Attribute) and func.attr == view):
            return None
        iterable = func.value
    elif view == "items":
        return None
    if not (isinstance(iterable, ast.Attribute) and iterable.attr == "_parameters"):
        return None
    return registered.modules(iterable.value, loop)


def _first_parameter(obj: object) -> str | None:
    """The name a ``torch.nn`` layer's ``named_parameters()`` yields first, when no
    constructor flag can remove it (``nn.Linear``'s ``weight``; not ``nn.BatchNorm2d``,
    whose ``weight`` ``affine=False`` removes)."""
    if not (isinstance(obj, ModuleObject) and obj.torch_layer):
        return None
    call = obj.site if isinstance(obj.site, ast.Call) else None
    for name in _ALWAYS_FIRST:
        if not layer_has_parameter(obj.layer, name):
            continue
        flags = [f for f, names in torchnames.OPTIONAL_PARAMETER_FLAGS.items() if name in names]
        if call is None and "Norm" in obj.layer:
            return None  # a narrowed norm layer may have been built with affine=False
        if call is not None and any(k.arg in flags or k.arg is None for k in call.keywords):
            return None
        return name
    return None
