"""Next ring: `affine=False` arrives through a config dict and **kwargs."""

from torch import nn

NORM_CFG = {"affine": False, "eps": 1e-5}


def build_norm(channels, **kwargs):
    return nn.BatchNorm2d(channels, **kwargs)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.norm = build_norm(8, **NORM_CFG)
        nn.init.ones_(self.norm.weight)  # expect: GG304

    def forward(self, x):
        return self.norm(self.conv(x))


net = Net()
