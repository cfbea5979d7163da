"""Shape 9: subscripts of an nn.Sequential (GG201 and GG102)."""

import torch
from torch import nn

model = nn.Sequential(nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 2))
model[0].bias = None  # expect: GG201
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
model[2] = nn.Linear(10, 5)  # expect: GG102

for x in [torch.randn(3, 10)]:
    optimizer.zero_grad()
    model(x).sum().backward()
    optimizer.step()
