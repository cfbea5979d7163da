"""Custom modules with parameter-handling mistakes."""

import torch
import torch.nn as nn
import torch.nn.functional as F


class MultiHead(nn.Module):
    def __init__(self, dim, heads=4):
        super().__init__()
        self.heads = [nn.Linear(dim, dim) for _ in range(heads)]
        self.mix = nn.Parameter(torch.ones(heads)).double()
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        self.mix = F.softmax(self.mix, 0)
        return sum(w * head(x) for w, head in zip(self.mix, self.heads))


class Gate(nn.Module):
    def _init_(self, dim):
        super().__init__()
        self.proj = nn.Linear(dim, 1)

    def forward(self, x):
        return torch.sigmoid(self.proj(x)) * x


class Pruned(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc = nn.Linear(dim, dim)

    def forward(self, x):
        out = self.fc(x)
        if out.abs().mean() < 1e-3:
            self.fc.weight = None  # "drop" the layer
        return out


class LayerMix(nn.Module):
    """ELMo-style learned mix of layer outputs."""

    def __init__(self, layers):
        super().__init__()
        self.layer_weights = nn.Parameter(torch.zeros(layers))

    def forward(self, outputs):
        self.layer_weights = F.softmax(self.layer_weights, 0)
        return sum(w * out for w, out in zip(self.layer_weights, outputs))
