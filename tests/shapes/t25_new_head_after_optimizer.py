# Source: https://runebook.dev/en/docs/pytorch/generated/torch.optim.adafactor/torch.optim.Adafactor.add_param_group
"""Ring 3: the model keeps a `None` placeholder for a head that a later stage fills in, after
the optimizer was built; the new head is never stepped."""

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
attach_head(model, 2)  # expect: GG102
for x, y in [(torch.randn(4, 10), torch.randint(0, 2, (4,)))] * 3:
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
