"""Next ring, negative: setattr over parameter names that PyTorch accepts (pruning's
reparametrization, new Parameters, buffers)."""

import torch
from torch import nn


def prune_(layer, amount=0.5):
    for name in ("weight", "bias"):
        orig = getattr(layer, name)
        mask = (orig.abs() > orig.abs().quantile(amount)).float()
        del layer._parameters[name]
        layer.register_parameter(name + "_orig", orig)
        setattr(layer, name, orig * mask)


def quantize_(layer, bits=8):
    for name, param in list(layer.named_parameters()):
        scale = param.abs().max() / (2 ** (bits - 1) - 1)
        setattr(layer, name, nn.Parameter(torch.round(param / scale) * scale))


def reset_stats_(bn):
    for name in ("running_mean", "running_var"):
        setattr(bn, name, torch.zeros_like(getattr(bn, name)))


prune_(nn.Linear(4, 4))
quantize_(nn.Linear(4, 4))
reset_stats_(nn.BatchNorm1d(4))
