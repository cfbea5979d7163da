"""Next ring, negative: nested containers that do register (or hold no parameters)."""

import torch
from torch import nn


class TaskHeads(nn.Module):
    def __init__(self, tasks, dim):
        super().__init__()
        self.trunk = nn.Linear(dim, dim)
        self.heads = nn.ModuleDict(
            {
                task: nn.ParameterDict(
                    {"w": nn.Parameter(torch.randn(dim, 1)), "b": nn.Parameter(torch.zeros(1))}
                )
                for task in tasks
            }
        )
        self.schedule = {"trunk": {"lr": 1e-4}, "heads": {"lr": 1e-3}}

    def forward(self, x, task):
        head = self.heads[task]
        return self.trunk(x) @ head["w"] + head["b"]


model = TaskHeads(["a", "b"], 8)
optimizer = torch.optim.Adam(
    [
        {"params": model.trunk.parameters(), **model.schedule["trunk"]},
        {"params": model.heads.parameters(), **model.schedule["heads"]},
    ]
)
