"""Shape 12, negative: gradient clipping by hand after a backward through every parameter."""

import torch
from torch import nn


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 32)
        self.fc2 = nn.Linear(32, 1)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def train_one_epoch(model, optimizer, loader, max_norm=1.0):
    for x, y in loader:
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        params = model.parameters()
        total = sum(p.grad.norm() ** 2 for p in params) ** 0.5
        for p in model.parameters():
            p.grad.mul_(min(1.0, max_norm / (total + 1e-6)))
        optimizer.step()


model = MLP()
train_one_epoch(
    model, torch.optim.SGD(model.parameters(), lr=0.1), [(torch.randn(4, 10), torch.randn(4, 1))]
)
