"""Optional-parameter facts: the constructor flags that leave a ``torch.nn`` layer's ``weight`` or
``bias`` as ``None``, and what ``torch.nn.init`` functions touch first on their tensor.

Measured on torch 2.13.0 (``tests/test_pytorch_facts.py`` checks every row against the
installed torch): the flag's position among the constructor's arguments, its default, and
which attributes are ``None`` when it is ``False`` (the attribute still exists).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Flag:
    name: str  # "bias"
    position: int  # index among the constructor's arguments (after ``self``)
    default: bool
    leaves_none: tuple[str, ...]  # ("weight", "bias") for ``affine=False``


def _conv(position: int) -> tuple[Flag, ...]:
    return (Flag("bias", position, True, ("bias",)),)


def _norm(affine: int, bias: int, affine_default: bool = True) -> tuple[Flag, ...]:
    return (
        Flag("affine", affine, affine_default, ("weight", "bias")),
        Flag("bias", bias, True, ("bias",)),
    )


# Bare class names (``Conv2d``), as ``torch.nn`` exports them.
LAYER_FLAGS: dict[str, tuple[Flag, ...]] = {
    "Linear": _conv(2),
    "LazyLinear": _conv(1),
    "Bilinear": _conv(3),
    **{f"Conv{d}d": _conv(7) for d in (1, 2, 3)},
    **{f"ConvTranspose{d}d": _conv(7) for d in (1, 2, 3)},
    **{f"LazyConv{d}d": _conv(6) for d in (1, 2, 3)},
    **{f"LazyConvTranspose{d}d": _conv(6) for d in (1, 2, 3)},
    **{f"BatchNorm{d}d": _norm(3, 7) for d in (1, 2, 3)},
    **{f"LazyBatchNorm{d}d": _norm(2, 6) for d in (1, 2, 3)},
    # InstanceNorm is the one layer whose `affine` is False unless asked for.
    **{f"InstanceNorm{d}d": _norm(3, 7, affine_default=False) for d in (1, 2, 3)},
    **{f"LazyInstanceNorm{d}d": _norm(2, 6) for d in (1, 2, 3)},
    "SyncBatchNorm": _norm(3, 8),
    "GroupNorm": _norm(3, 6),
    "LayerNorm": (
        Flag("elementwise_affine", 2, True, ("weight", "bias")),
        Flag("bias", 3, True, ("bias",)),
    ),
    "RMSNorm": (Flag("elementwise_affine", 2, True, ("weight",)),),
}

# Layers whose ``weight`` / ``bias`` attribute always exists (``None`` when switched off),
# so ``m.bias is not None`` is a complete guard for them.
HAS_ATTRIBUTE: dict[str, frozenset[str]] = {
    "bias": frozenset(
        c for c, flags in LAYER_FLAGS.items() if any(f.name == "bias" for f in flags)
    ),
    "weight": frozenset({*LAYER_FLAGS, "Embedding"}),
}

# What each ``torch.nn.init`` function reads first on its tensor: given ``None`` it raises
# ``AttributeError: 'NoneType' object has no attribute '<this>'``.
INIT_FIRST_ATTRIBUTE = {
    "zeros_": "zero_",
    "ones_": "fill_",
    "constant_": "fill_",
    "normal_": "normal_",
    "uniform_": "uniform_",
    "trunc_normal_": "is_meta",
    "kaiming_normal_": "shape",
    "kaiming_uniform_": "shape",
    "xavier_normal_": "dim",
    "xavier_uniform_": "dim",
    "orthogonal_": "ndimension",
    "sparse_": "ndimension",
    "dirac_": "ndimension",
    "eye_": "ndimension",
}
INIT_MODULE = "torch.nn.init."


def flags_leaving_none(class_name: str, parameter: str) -> tuple[Flag, ...]:
    """The flags of layer ``class_name`` that, when False, leave ``parameter`` None."""
    return tuple(f for f in LAYER_FLAGS.get(class_name, ()) if parameter in f.leaves_none)


def layers_leaving_none(parameter: str) -> frozenset[str]:
    """The layers with a flag that, when False, leaves ``parameter`` None."""
    return frozenset(c for c in LAYER_FLAGS if flags_leaving_none(c, parameter))
