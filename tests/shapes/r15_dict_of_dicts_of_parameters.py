"""Next ring: a dict of dicts of nn.Parameter in __init__ is not registered."""

import torch
from torch import nn


class TaskHeads(nn.Module):
    def __init__(self, tasks, dim):
        super().__init__()
        self.trunk = nn.Linear(dim, dim)
        self.heads = {  # expect: GG203
            task: {"w": nn.Parameter(torch.randn(dim, 1)), "b": nn.Parameter(torch.zeros(1))}
            for task in tasks
        }

    def forward(self, x, task):
        head = self.heads[task]
        return self.trunk(x) @ head["w"] + head["b"]


model = TaskHeads(["a", "b"], 8)
optimizer = torch.optim.Adam(model.parameters())
