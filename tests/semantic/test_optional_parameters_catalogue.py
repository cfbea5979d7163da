"""The optional-parameter facts (``catalogue/optional_parameters.py``), measured on torch."""

from __future__ import annotations

import inspect

import pytest

from gradguard.semantic.catalogue.optional_parameters import (
    HAS_ATTRIBUTE,
    INIT_FIRST_ATTRIBUTE,
    LAYER_FLAGS,
)

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch
nn = torch.nn

# Constructor arguments that make a small instance of each class.
_ARGUMENTS = {"Linear": (2, 2), "LazyLinear": (2,), "Bilinear": (2, 2, 2), "GroupNorm": (1, 2)}


def _instance(class_name: str, **flags: bool) -> nn.Module:
    arguments = _ARGUMENTS.get(class_name)
    if arguments is None:
        lazy = class_name.startswith("Lazy")
        arguments = (
            ((2, 1) if lazy else (2, 2, 1)) if "Conv" in class_name else (() if lazy else (2,))
        )
    return getattr(nn, class_name)(*arguments, **flags)


@pytest.mark.parametrize("class_name", sorted(LAYER_FLAGS))
def test_flags_are_where_and_what_torch_says(class_name):
    signature = list(inspect.signature(getattr(nn, class_name).__init__).parameters.values())[1:]
    for flag in LAYER_FLAGS[class_name]:
        parameter = signature[flag.position]
        assert (parameter.name, parameter.default) == (flag.name, flag.default)
        others = {f.name: True for f in LAYER_FLAGS[class_name] if f.name != flag.name}
        layer = _instance(class_name, **{flag.name: False}, **others)
        none = tuple(
            p for p in ("weight", "bias") if hasattr(layer, p) and getattr(layer, p) is None
        )
        assert none == flag.leaves_none


@pytest.mark.parametrize("parameter", ["weight", "bias"])
def test_layers_listed_keep_the_attribute(parameter):
    for class_name in HAS_ATTRIBUTE[parameter] - {"Embedding"}:
        assert hasattr(_instance(class_name), parameter), class_name
    assert hasattr(nn.Embedding(2, 2), "weight")


@pytest.mark.parametrize(("function", "attribute"), sorted(INIT_FIRST_ATTRIBUTE.items()))
def test_init_functions_given_none(function, attribute):
    extra = {"constant_": (0,), "sparse_": (0.5,)}.get(function, ())
    with pytest.raises(AttributeError, match=f"'NoneType' object has no attribute '{attribute}'$"):
        getattr(nn.init, function)(None, *extra)
