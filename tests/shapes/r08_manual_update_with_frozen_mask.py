"""Next ring: a hand-written SGD step over a model that holds a frozen nn.Parameter mask."""

import torch
from torch import nn


class MaskedLinear(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.linear = nn.Linear(n, n)
        self.mask = nn.Parameter(torch.ones(n, n).tril(), requires_grad=False)

    def forward(self, x):
        return nn.functional.linear(x, self.linear.weight * self.mask, self.linear.bias)


model = MaskedLinear(4)
lr = 0.1
for x in [torch.randn(2, 4)]:
    model(x).pow(2).sum().backward()
    with torch.no_grad():
        for param in model.parameters():
            param -= lr * param.grad  # expect: GG301
