# Source: https://github.com/danieltan07/learning-to-reweight-examples/issues/6
"""Ring 3, negative: the answer in the thread, the optimizer gets `model.params()` (the buffers
that require grad), not `model.parameters()`."""

import argparse

import torch
from torch import nn, optim
from torch.nn import functional as F


class MetaModule(nn.Module):
    def params(self):
        for _, buf in self.named_buffers():
            if buf.requires_grad:
                yield buf


class MetaLinear(MetaModule):
    def __init__(self, *args, **kwargs):
        super().__init__()
        ignore = nn.Linear(*args, **kwargs)
        self.register_buffer("weight", ignore.weight.data.clone().requires_grad_())
        self.register_buffer("bias", ignore.bias.data.clone().requires_grad_())

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)


class LeNet(MetaModule):
    def __init__(self, n_out):
        super().__init__()
        self.fc1 = MetaLinear(16, 32)
        self.fc2 = MetaLinear(32, n_out)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=1e-3)
parser.add_argument("--momentum", type=float, default=0.9)
args = parser.parse_args([])

model = LeNet(n_out=1)
optimizer = optim.SGD(model.params(), lr=args.lr, momentum=args.momentum)
loss = model(torch.randn(4, 16)).pow(2).mean()
loss.backward()
optimizer.step()
