"""Shape 3: aliases of the model (GG102, GG105) and of None (GG201)."""

import torch
from torch import nn

model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
net = model
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
model[2] = nn.Linear(8, 4)  # expect: GG102

for _step in range(10):
    opt.zero_grad()
    model(torch.randn(4, 8)).pow(2).mean().backward()
    opt.step()

layer = nn.Linear(4, 4)
layer_opt = torch.optim.Adam(layer.parameters())
layer(torch.randn(2, 4)).sum().backward()
layer_opt.step()
alias = layer
alias.double()  # expect: GG105
layer_opt.zero_grad()
layer(torch.randn(2, 4).double()).sum().backward()
layer_opt.step()

head = nn.Linear(4, 2)
nothing = None
head.bias = nothing  # expect: GG201
