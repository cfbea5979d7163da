"""Next ring: setattr writes plain tensors over a layer's own parameter names."""

import torch
from torch import nn


def quantize_(layer, bits=8):
    for name, param in list(layer.named_parameters()):
        scale = param.abs().max() / (2 ** (bits - 1) - 1)
        setattr(layer, name, torch.round(param / scale) * scale)  # expect: GG202


layer = nn.Linear(4, 4)
quantize_(layer)
