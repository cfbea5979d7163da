# Source: https://github.com/open-mmlab/mmcv/pull/153
"""Ring 3: `constant_init` is applied to every BatchNorm of a backbone whose norm layers are
built from a config with `affine=False`, so their `weight` and `bias` are None."""

from torch import nn

norm_cfg = {"type": "BN", "affine": False}


def build_norm_layer(cfg, num_features):
    cfg = dict(cfg)
    cfg.pop("type")
    return nn.BatchNorm2d(num_features, **cfg)


def constant_init(module, val, bias=0):
    nn.init.constant_(module.weight, val)  # expect: GG304
    if hasattr(module, "bias"):
        nn.init.constant_(module.bias, bias)  # expect: GG304


class BasicBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn = build_norm_layer(norm_cfg, channels)

    def forward(self, x):
        return nn.functional.relu(self.bn(self.conv(x)))


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(BasicBlock(8), BasicBlock(8))

    def init_weights(self):
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                constant_init(m, 1)


Backbone().init_weights()
