"""Layer facts: which parameters each ``torch.nn`` layer registers (measured on torch
2.13.0: ``named_parameters(recurse=False)`` of each class built with its defaults)."""

from __future__ import annotations

from gradguard.analysis import torchnames

# torch.nn classes that register no parameters of their own (containers, activations,
# pooling, dropout, wrappers): ``seq.weight = None`` on them sets a plain attribute.
PARAMETERLESS_LAYERS = frozenset(
    {
        "Sequential",
        "ModuleList",
        "ModuleDict",
        "ParameterList",
        "ParameterDict",
        "Identity",
        "Flatten",
        "Unflatten",
        "ReLU",
        "ReLU6",
        "LeakyReLU",
        "ELU",
        "SELU",
        "CELU",
        "GELU",
        "SiLU",
        "Mish",
        "Sigmoid",
        "Tanh",
        "Softmax",
        "LogSoftmax",
        "Softplus",
        "Softsign",
        "Hardtanh",
        "Hardswish",
        "Hardsigmoid",
        "Tanhshrink",
        "Softshrink",
        "Hardshrink",
        "Threshold",
        "GLU",
        "Softmin",
        "Softmax2d",
        "LogSigmoid",
        "Dropout",
        "Dropout1d",
        "Dropout2d",
        "Dropout3d",
        "AlphaDropout",
        "FeatureAlphaDropout",
        "MaxPool1d",
        "MaxPool2d",
        "MaxPool3d",
        "AvgPool1d",
        "AvgPool2d",
        "AvgPool3d",
        "AdaptiveAvgPool1d",
        "AdaptiveAvgPool2d",
        "AdaptiveAvgPool3d",
        "AdaptiveMaxPool1d",
        "AdaptiveMaxPool2d",
        "AdaptiveMaxPool3d",
        "LPPool1d",
        "LPPool2d",
        "LPPool3d",
        "MaxUnpool1d",
        "MaxUnpool2d",
        "MaxUnpool3d",
        "FractionalMaxPool2d",
        "FractionalMaxPool3d",
        "Upsample",
        "UpsamplingNearest2d",
        "UpsamplingBilinear2d",
        "PixelShuffle",
        "PixelUnshuffle",
        "ChannelShuffle",
        "ZeroPad1d",
        "ZeroPad2d",
        "ZeroPad3d",
        "ConstantPad1d",
        "ConstantPad2d",
        "ConstantPad3d",
        "ReflectionPad1d",
        "ReflectionPad2d",
        "ReflectionPad3d",
        "ReplicationPad1d",
        "ReplicationPad2d",
        "ReplicationPad3d",
        "CircularPad1d",
        "CircularPad2d",
        "CircularPad3d",
        "CosineSimilarity",
        "PairwiseDistance",
        "DataParallel",
        "Fold",
        "Unfold",
        "LocalResponseNorm",
        "CrossMapLRN2d",
        "MSELoss",
        "L1Loss",
        "CrossEntropyLoss",
        "NLLLoss",
        "BCELoss",
        "BCEWithLogitsLoss",
        "SmoothL1Loss",
        "HuberLoss",
        "KLDivLoss",
        "Module",
    }
)
RNN_LAYERS = frozenset({"RNN", "LSTM", "GRU", "RNNBase"})
ATTENTION_LAYERS = frozenset({"MultiheadAttention"})
# Layers whose only parameter is ``weight``.
WEIGHT_ONLY_LAYERS = frozenset({"Embedding", "EmbeddingBag", "PReLU"})
_ATTENTION_NAMES = frozenset(
    {
        "in_proj_weight",
        "in_proj_bias",
        "q_proj_weight",
        "k_proj_weight",
        "v_proj_weight",
        "bias_k",
        "bias_v",
    }
)


def layer_has_parameter(layer: str, name: str) -> bool:
    """``torch.nn.<layer>`` registers a parameter called ``name`` (by default)."""
    if layer in PARAMETERLESS_LAYERS or not torchnames.is_layer_parameter_name(name):
        return False
    if layer in RNN_LAYERS:
        return name.startswith(("weight_", "bias_")) and name not in _ATTENTION_NAMES
    if layer in ATTENTION_LAYERS:
        return name in _ATTENTION_NAMES
    if layer in WEIGHT_ONLY_LAYERS:
        return name == "weight"
    return name in ("weight", "bias")
