"""Tensor facts: factories, leaf-keeping and leaf-breaking methods, moves and casts.

Measured on torch 2.13.0 (``tests/test_pytorch_facts.py`` checks them under real torch).
Each fact is written once; rules take the named subsets below instead of copying them.
"""

from __future__ import annotations

import re

# torch functions that create a tensor and accept ``requires_grad=``, ``dtype=`` and ``device=``.
FACTORY_FUNCTIONS = frozenset(
    {
        "randn",
        "rand",
        "randint",
        "zeros",
        "ones",
        "empty",
        "full",
        "tensor",
        "arange",
        "linspace",
        "logspace",
        "eye",
        "normal",
        "randperm",
        "zeros_like",
        "ones_like",
        "randn_like",
        "rand_like",
        "empty_like",
        "full_like",
        "randint_like",
    }
)
# Factories whose result is an integer tensor by default: it can never require grad.
INTEGER_FACTORIES = frozenset({"randint_like", "randperm"})
# Factories whose ``requires_grad=True`` is commonly a mistake to model as a leaf
# parameter (``normal`` takes tensors as ``mean``/``std``; ``logspace`` is a lookup table).
_NOT_PARAMETER_LIKE = frozenset({"logspace", "normal"})
# Conversions from other data (NumPy, lists): a leaf that does not require grad.
CONVERSION_FUNCTIONS = frozenset({"as_tensor", "from_numpy"})
# What ``torch.<name>(...)`` gives a leaf with ``.grad is None`` (requires grad only if asked).
LEAF_FACTORIES = (FACTORY_FUNCTIONS - INTEGER_FACTORIES) | CONVERSION_FUNCTIONS
# Factories that make a trainable leaf with ``requires_grad=True``.
GRAD_LEAF_FACTORIES = FACTORY_FUNCTIONS - INTEGER_FACTORIES - _NOT_PARAMETER_LIKE

# Moves and casts, on a module in place, on a tensor a copy when something changes.
MOVE_AND_CAST_METHODS = frozenset(
    {"to", "cuda", "cpu", "float", "double", "half", "bfloat16", "type"}
)
# Casts that change a float32 tensor's dtype, so their result is a new non-leaf.
DTYPE_CHANGING_CASTS = frozenset({"double", "half", "bfloat16"})
# Moves and casts after which an optimizer's existing state no longer matches the
# parameters (``.cpu()``/``.float()`` bring them back to where state starts).
STATE_MISMATCHING_MOVES = frozenset({"to", "cuda"}) | DTYPE_CHANGING_CASTS

# Methods that only reshape, copy or scale: their result is a non-leaf when the receiver
# requires grad, and putting `.requires_grad_()` after them keeps a leaf.
SHAPE_AND_SCALE_METHODS = frozenset(
    {
        "unsqueeze",
        "squeeze",
        "view",
        "view_as",
        "reshape",
        "reshape_as",
        "expand",
        "expand_as",
        "repeat",
        "t",
        "transpose",
        "permute",
        "narrow",
        "select",
        "clone",
        "mul",
        "add",
        "sub",
        "div",
        "neg",
    }
)
# Methods whose result is always a non-leaf when the receiver requires grad.
ALWAYS_NON_LEAF_METHODS = SHAPE_AND_SCALE_METHODS | {
    "pow",
    "exp",
    "log",
    "abs",
    "sqrt",
    "sigmoid",
    "tanh",
    "relu",
    "softmax",
    "log_softmax",
    "sum",
    "mean",
    "matmul",
    "mm",
}
# Attributes that are a non-leaf view of a tensor that requires grad.
NON_LEAF_ATTRIBUTES = frozenset({"T", "mT", "H", "mH"})
# Methods that freeze or unfreeze in place: ``requires_grad_(False)``.
REQUIRES_GRAD_SETTER = "requires_grad_"
# Methods whose result is a new plain tensor, never the receiver (so never a Parameter,
# even on one: ``p.detach()`` is a ``torch.Tensor``).
NEW_TENSOR_METHODS = ALWAYS_NON_LEAF_METHODS | {
    "bmm",
    "clamp",
    "cumsum",
    "detach",
    "exp2",
    "flatten",
    "flip",
    "index_select",
    "masked_fill",
    "mv",
    "norm",
    "reciprocal",
    "renorm",
    "roll",
    "round",
    "rsqrt",
    "sign",
    "softplus",
    "square",
    "where",
}
# torch namespaces whose functions return new tensors.
NEW_TENSOR_NAMESPACES = ("torch.nn.functional.", "torch.linalg.", "torch.fft.", "torch.special.")
# ``torch.*`` functions that may hand back their argument, or make no tensor.
NOT_NEW_TENSOR_FUNCTIONS = frozenset(
    {
        "torch.load",
        "torch.as_tensor",
        "torch.asarray",
        "torch.compile",
        "torch.device",
        "torch.no_grad",
        "torch.enable_grad",
        "torch.manual_seed",
    }
)

#: ``torch.nn`` layers that own parameters: their output requires grad.
PARAMETRIC_LAYER = re.compile(
    r"^torch\.nn\.(Linear|Bilinear|Conv\w*|ConvTranspose\w*|Embedding\w*|LSTM|GRU|RNN"
    r"|MultiheadAttention|Transformer\w*|Sequential)$"
)
