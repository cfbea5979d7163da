"""Next ring: scaling every gradient of a model whose backbone is frozen in __init__."""

import torch
from torch import nn


class FineTuner(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(16, 16), nn.ReLU())
        self.head = nn.Linear(16, 2)
        for p in self.backbone.parameters():
            p.requires_grad = False

    def forward(self, x):
        return self.head(self.backbone(x))


model = FineTuner()
opt = torch.optim.SGD(model.head.parameters(), lr=0.1)
accum = 4
for step, x in enumerate([torch.randn(2, 16)] * 8):
    model(x).sum().backward()
    if (step + 1) % accum == 0:
        for param in model.parameters():
            param.grad *= 1.0 / accum  # expect: GG301
        opt.step()
        opt.zero_grad()
