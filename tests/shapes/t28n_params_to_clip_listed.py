# Source: https://github.com/pytorch/pytorch/issues/148259
"""Ring 3, negative: the parameters are materialised once with `list(...)`."""

import torch
from torch import nn


class SimpleModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 1)

    def forward(self, x):
        return self.fc(x)


model = SimpleModel()
criterion = nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
for inputs, targets in [(torch.randn(16, 10), torch.randn(16, 1))] * 2:
    loss = criterion(model(inputs), targets)
    optimizer.zero_grad()
    loss.backward()
    params_to_clip = list(model.parameters())
    for p in params_to_clip:
        print(p.shape)
    nn.utils.clip_grad_norm_(params_to_clip, 1.0)
    optimizer.step()
