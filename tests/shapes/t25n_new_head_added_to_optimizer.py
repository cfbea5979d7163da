# Source: https://runebook.dev/en/docs/pytorch/generated/torch.optim.adafactor/torch.optim.Adafactor.add_param_group
"""Ring 3, negative: the page's corrected code, the new head's parameters join the optimizer
with `add_param_group`."""

import torch
from torch import nn
from torch.optim import Adam


class MyModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 5)
        self.new_head = None

    def forward(self, x):
        x = self.fc1(x)
        return x if self.new_head is None else self.new_head(x)


def attach_head(model, num_classes):
    model.new_head = nn.Linear(5, num_classes)


model = MyModel()
optimizer = Adam(model.parameters(), lr=0.01)
attach_head(model, 2)
optimizer.add_param_group({"params": model.new_head.parameters(), "lr": 1e-3})
for x, y in [(torch.randn(4, 10), torch.randint(0, 2, (4,)))] * 3:
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
