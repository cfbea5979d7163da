"""Objects across methods: the trainer builds Adam in __init__ and warms up in float32; the script
then casts the model to float64 and trains on: Adam's state stays float32 (GG105)."""

import torch
from torch import nn, optim


class Trainer:
    def __init__(self, model, lr=1e-3):
        self.model = model
        self.optimizer = optim.Adam(self.model.parameters(), lr=lr)

    def step(self, x, y):
        self.optimizer.zero_grad()
        loss = nn.functional.mse_loss(self.model(x), y)
        loss.backward()
        self.optimizer.step()


def main():
    model = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1))
    trainer = Trainer(model)
    trainer.step(torch.randn(16, 8), torch.randn(16, 1))
    model.double()  # expect: GG105
    trainer.step(torch.randn(16, 8).double(), torch.randn(16, 1).double())


main()
