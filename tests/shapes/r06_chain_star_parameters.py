"""Next ring: star-unpacking a parameter unpacks its rows (non-leaf views)."""

import itertools

import torch
from torch import nn

net = nn.Linear(4, 3)
W = nn.Parameter(torch.randn(3, 3))
optimizer = torch.optim.Adam(itertools.chain(*net.parameters(), [W]), lr=1e-3)  # expect: GG101
