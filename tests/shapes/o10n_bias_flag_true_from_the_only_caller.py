"""Constants across calling contexts (negative): the only caller passes bias=True, so the block's
bias always exists."""

import torch
from torch import nn


class ConvBlock(nn.Module):
    def __init__(self, c_in, c_out, bias=True):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=bias)
        self.bn = nn.BatchNorm2d(c_out)
        nn.init.kaiming_normal_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = ConvBlock(3, 16, bias=True)

    def forward(self, x):
        return self.stem(x)


net = Net()
print(net(torch.randn(1, 3, 8, 8)).shape)
