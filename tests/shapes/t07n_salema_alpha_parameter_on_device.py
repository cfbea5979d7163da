# Source: https://github.com/Linardos/SalEMA/issues/7
"""Ring 3, negative: the tensor is created on the device and then wrapped, so `alpha` is a
registered leaf Parameter."""

import torch
from torch import nn


class SalEMA(nn.Module):
    def __init__(self, alpha=0.25, device="cpu"):
        super().__init__()
        self.salgan = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
        self.alpha = nn.Parameter(torch.tensor([alpha], device=device))

    def forward(self, x, prev_state=None):
        state = self.salgan(x)
        if prev_state is None:
            return state
        return torch.sigmoid(self.alpha) * state + (1 - torch.sigmoid(self.alpha)) * prev_state


device = "cuda" if torch.cuda.is_available() else "cpu"
model = SalEMA(device=device)
optimizer = torch.optim.Adam(
    [
        {"params": model.salgan.parameters(), "lr": 1e-4, "weight_decay": 1e-4},
        {"params": [model.alpha], "lr": 0.1},
    ]
)
