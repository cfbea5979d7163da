"""Objects across methods: the trainer's __init__ builds SGD over a model whose layer keeps its
weights with register_buffer, the model first bound to a name."""

import torch
from torch import nn, optim


class FixedProjection(nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        self.register_buffer("weight", torch.randn(d_out, d_in) / d_in**0.5)

    def forward(self, x):
        return x @ self.weight.t()


class Trainer:
    def __init__(self, model, lr=0.1):
        self.model = model
        self.optimizer = optim.SGD(self.model.parameters(), lr=lr)  # expect: GG101

    def fit(self, loader):
        for x, y in loader:
            self.optimizer.zero_grad()
            loss = nn.functional.mse_loss(self.model(x), y)
            loss.backward()
            self.optimizer.step()


model = FixedProjection(8, 2)
trainer = Trainer(model)
trainer.fit([(torch.randn(4, 8), torch.randn(4, 2))])
