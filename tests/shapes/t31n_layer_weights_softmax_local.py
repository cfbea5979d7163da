# Source: https://github.com/pytorch/pytorch/issues/44022
"""Ring 3, negative: the normalised weights go into a local variable."""

import torch
from torch import nn
from torch.nn import functional as F


class LayerMixQA(nn.Module):
    def __init__(self, num_layers=4, hidden=16):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(num_layers))
        self.layer_weights = nn.Parameter(torch.ones(num_layers))
        self.qa_outputs = nn.Linear(hidden, 2)

    def forward(self, x):
        states = []
        for layer in self.layers:
            x = torch.tanh(layer(x))
            states.append(x)
        weights = F.softmax(self.layer_weights, dim=0)
        mixed = sum(w * s for w, s in zip(weights, states, strict=True))
        return self.qa_outputs(mixed)


model = LayerMixQA()
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-5)
loss = model(torch.randn(2, 5, 16)).sum()
loss.backward()
optimizer.step()
