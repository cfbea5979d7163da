"""Shape 11: a sampled path never uses some ops' `alpha`; their `.grad` is read anyway."""

import random

import torch
from torch import nn


class MixedOp(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(1))
        self.op = nn.Linear(dim, dim)

    def forward(self, x):
        return self.op(x) * self.alpha.sigmoid()


class Cell(nn.Module):
    def __init__(self, dim, n_ops=4):
        super().__init__()
        self.ops = nn.ModuleList(MixedOp(dim) for _ in range(n_ops))

    def forward(self, x):
        op = random.choice(self.ops)  # one sampled path per step
        return op(x)

    def alpha_grads(self):
        return [op.alpha.grad.data.clone() for op in self.ops]  # expect: GG301


cell = Cell(8)
loss = cell(torch.randn(2, 8)).sum()
loss.backward()
grads = cell.alpha_grads()
