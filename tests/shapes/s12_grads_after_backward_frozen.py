"""Shape 12: the same loop, with the first layer frozen: its `.grad` stays None."""

import torch
from torch import nn


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 32)
        self.fc2 = nn.Linear(32, 1)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


model = MLP()
model.fc1.requires_grad_(False)
optimizer = torch.optim.SGD(model.fc2.parameters(), lr=0.1)
for x, y in [(torch.randn(4, 10), torch.randn(4, 1))]:
    optimizer.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    for p in model.parameters():
        p.grad.clamp_(-1, 1)  # expect: GG301
    optimizer.step()
