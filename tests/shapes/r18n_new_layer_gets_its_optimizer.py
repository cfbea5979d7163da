"""Next ring, negative: the new head is added to the optimizer right after the replacement."""

import torch
from torch import nn


def add_to_optimizer(optimizer, module, lr):
    optimizer.add_param_group({"params": module.parameters(), "lr": lr})


model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
model[2] = nn.Linear(8, 5)
add_to_optimizer(optimizer, model[2], lr=0.1)
for x in [torch.randn(2, 8)]:
    optimizer.zero_grad()
    model(x).sum().backward()
    optimizer.step()
