"""Shape 12 (GG402), negative: each trial builds a new model and optimizer for one step."""

import torch
from torch import nn

x, y = torch.randn(4, 3), torch.randn(4, 1)
for lr in [1e-1, 1e-2, 1e-3]:
    model = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    print(lr, loss.item())
