# Source: https://github.com/pytorch/pytorch/issues/715
"""Ring 3, negative: the maintainer's answer, the layers go into an `nn.ModuleList`."""

import torch
from torch import nn

options = {"n_layers": 2, "n_hid": 16, "act": "ReLU"}


class SNLINet(nn.Module):
    def __init__(self, options):
        super().__init__()
        self.hids = nn.ModuleList()
        for _ in range(options["n_layers"]):
            self.hids.append(
                nn.Sequential(nn.Linear(options["n_hid"], options["n_hid"]), nn.ReLU())
            )
        self.classifier = nn.Linear(options["n_hid"], 3)

    def forward(self, x):
        for block in self.hids:
            x = block(x)
        return self.classifier(x)


model = SNLINet(options)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
