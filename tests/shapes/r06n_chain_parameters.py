"""Next ring, negative: chaining the parameter iterables themselves."""

import itertools

import torch
from torch import nn

net = nn.Linear(4, 3)
W = nn.Parameter(torch.randn(3, 3))
optimizer = torch.optim.Adam(itertools.chain(net.parameters(), [W]), lr=1e-3)
