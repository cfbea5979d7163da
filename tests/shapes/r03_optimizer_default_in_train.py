"""Next ring: train() builds its optimizer when none is passed, and no caller passes one."""

import torch
from torch import nn, optim


def train(net, loader, epoch, opt=None):
    if opt is None:
        opt = optim.Adam(net.parameters(), lr=1e-3)  # expect: GG103
    for x, y in loader:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
    print(f"epoch {epoch}: {loss.item():.3f}")


net = nn.Linear(20, 4)
loader = [(torch.randn(8, 20), torch.randint(0, 4, (8,)))]
for epoch in range(10):
    train(net, loader, epoch)
