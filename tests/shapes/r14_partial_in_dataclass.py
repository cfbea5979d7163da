"""Next ring: functools.partial(nn.BatchNorm2d, affine=False) kept in a dataclass field."""

import functools
from dataclasses import dataclass, field

from torch import nn


@dataclass
class ModelConfig:
    width: int = 16
    norm_layer: object = field(default=functools.partial(nn.BatchNorm2d, affine=False))


class Net(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.conv = nn.Conv2d(3, cfg.width, 3)
        self.norm = cfg.norm_layer(cfg.width)
        nn.init.zeros_(self.norm.bias)  # expect: GG304

    def forward(self, x):
        return self.norm(self.conv(x))


net = Net(ModelConfig())
