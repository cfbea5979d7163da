"""Next ring: `bias` is a constructor parameter that another class passes as False."""

import torch
from torch import nn


class ConvBlock(nn.Module):
    def __init__(self, c_in, c_out, bias=True):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=bias)
        self.bn = nn.BatchNorm2d(c_out)
        nn.init.kaiming_normal_(self.conv.weight)
        nn.init.constant_(self.conv.bias, 0.0)  # expect: GG304

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))


class Stem(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = ConvBlock(3, 32, bias=False)  # BatchNorm follows: no bias

    def forward(self, x):
        return self.block(x)


stem = Stem()
