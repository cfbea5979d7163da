"""Shape 4: `params` is rebound to another model after the optimizer took the first one."""

import torch
from torch import nn

a = nn.Sequential()
a.fc = nn.Linear(4, 4)
b = nn.Sequential()
b.fc = nn.Linear(4, 4)

params = a.parameters()
opt = torch.optim.SGD(params, lr=0.1)
params = b.parameters()
b.fc = nn.Linear(4, 2)  # b is not in opt: nothing to report
a.fc = nn.Linear(4, 2)  # expect: GG102

for _ in range(3):
    opt.zero_grad()
    a(torch.randn(2, 4)).sum().backward()
    opt.step()
