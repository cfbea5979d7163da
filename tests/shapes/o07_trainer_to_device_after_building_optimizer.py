"""Objects across methods: the trainer's to() moves its model after __init__ built the optimizer
(and a checkpoint's optimizer state was loaded for the old placement)."""

import torch
from torch import nn, optim


class Trainer:
    def __init__(self, model, checkpoint=None):
        self.model = model
        self.optimizer = optim.SGD(self.model.parameters(), lr=0.1, momentum=0.9)
        if checkpoint is not None:
            self.optimizer.load_state_dict(checkpoint["optimizer"])

    def to(self, device):
        self.model.to(device)
        return self

    def train_step(self, x, y):
        self.optimizer.zero_grad()
        loss = nn.functional.mse_loss(self.model(x), y)
        loss.backward()
        self.optimizer.step()


device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
trainer = Trainer(nn.Linear(4, 1))
trainer.to(device)  # expect: GG105
trainer.train_step(torch.randn(8, 4, device=device), torch.randn(8, 1, device=device))
