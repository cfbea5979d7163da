# Source: https://github.com/pytorch/pytorch/issues/44022
"""Ring 3: a QA head mixes the encoder's layers with learned weights and normalises the
parameter in place of itself inside `forward`: PyTorch raises `cannot assign ... as parameter`."""

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
        self.layer_weights = F.softmax(self.layer_weights, dim=0)  # expect: GG202
        mixed = sum(w * s for w, s in zip(self.layer_weights, states, strict=True))
        return self.qa_outputs(mixed)


model = LayerMixQA()
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-5)
loss = model(torch.randn(2, 5, 16)).sum()
loss.backward()
optimizer.step()
