# Source: https://github.com/pytorch/pytorch/issues/715
"""Ring 3: hidden layers built in a loop and kept as a plain list of `[layer, activation]`
pairs: they are not registered, so `parameters()` holds only the classifier."""

import torch
from torch import nn

options = {"n_layers": 2, "n_hid": 16, "act": "ReLU"}


class SNLINet(nn.Module):
    def __init__(self, options):
        super().__init__()
        self.hids = []  # expect: GG203
        for _ in range(options["n_layers"]):
            self.hids.append([nn.Linear(options["n_hid"], options["n_hid"]), nn.ReLU()])
        self.classifier = nn.Linear(options["n_hid"], 3)

    def forward(self, x):
        for linear, act in self.hids:
            x = act(linear(x))
        return self.classifier(x)


model = SNLINet(options)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
