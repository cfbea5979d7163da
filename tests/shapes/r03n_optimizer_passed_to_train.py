"""Next ring, negative: the same train(), with the optimizer built once and passed in."""

import torch
from torch import nn, optim


def train(net, loader, epoch, opt=None):
    if opt is None:
        opt = optim.Adam(net.parameters(), lr=1e-3)
    for x, y in loader:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()


net = nn.Linear(20, 4)
optimizer = optim.Adam(net.parameters(), lr=1e-3)
loader = [(torch.randn(8, 20), torch.randint(0, 4, (8,)))]
for epoch in range(10):
    train(net, loader, epoch, opt=optimizer)
