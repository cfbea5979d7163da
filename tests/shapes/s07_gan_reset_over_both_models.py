"""Shape 7: a GAN resets the gradients of both models; only D took part in the backward."""

import torch
from torch import nn

G = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 64))
D = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 1))
params = list(G.parameters()) + list(D.parameters())
d_opt = torch.optim.Adam(D.parameters(), lr=2e-4)


def reset_grad():
    for p in params:
        p.grad.data.zero_()  # expect: GG301


for real in [torch.randn(8, 64)]:
    d_loss = -D(real).mean()
    d_loss.backward()
    d_opt.step()
    reset_grad()
