# Source: https://github.com/open-mmlab/mmdetection/issues/91
"""Ring 3: FPN convs are built without a bias when a norm layer follows (`bias=not normalize`),
and `xavier_init` guards the bias only with `hasattr`, which is True when it is None."""

from torch import nn


def xavier_init(module, gain=1, bias=0):
    nn.init.xavier_uniform_(module.weight, gain=gain)
    if hasattr(module, "bias"):
        nn.init.constant_(module.bias, bias)  # expect: GG304


class ConvModule(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, normalize=None):
        super().__init__()
        self.with_norm = normalize is not None
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, padding=1, bias=not self.with_norm
        )
        if self.with_norm:
            self.norm = nn.GroupNorm(4, out_channels)

    def forward(self, x):
        x = self.conv(x)
        return self.norm(x) if self.with_norm else x


class FPN(nn.Module):
    def __init__(self, in_channels=(8, 16), out_channels=8, normalize=None):
        super().__init__()
        self.lateral_convs = nn.ModuleList(
            ConvModule(c, out_channels, 3, normalize=normalize) for c in in_channels
        )
        self.init_weights()

    def init_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                xavier_init(m)


neck = FPN(normalize={"type": "GN", "num_groups": 4})
