# Source: https://github.com/open-mmlab/mmcv/pull/153
"""Ring 3, negative: the merged fix, `constant_init` skips the weight and bias that are None."""

from torch import nn

norm_cfg = {"type": "BN", "affine": False}


def build_norm_layer(cfg, num_features):
    cfg = dict(cfg)
    cfg.pop("type")
    return nn.BatchNorm2d(num_features, **cfg)


def constant_init(module, val, bias=0):
    if hasattr(module, "weight") and module.weight is not None:
        nn.init.constant_(module.weight, val)
    if hasattr(module, "bias") and module.bias is not None:
        nn.init.constant_(module.bias, bias)


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
