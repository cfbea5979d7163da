# Source: https://github.com/Lightning-AI/pytorch-lightning/pull/554
"""Ring 3: a Lightning-like trainer asks the module for its optimizers first and moves the
module to the GPU afterwards: Adagrad's state, built at construction, stays on the CPU."""

import torch
from torch import nn


class LitModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(28 * 28, 10)

    def forward(self, x):
        return self.l1(x.flatten(1))

    def configure_optimizers(self):
        return torch.optim.Adagrad(self.parameters(), lr=0.02)


class Trainer:
    def __init__(self, root_gpu=0, max_epochs=1):
        self.root_gpu = root_gpu
        self.max_epochs = max_epochs

    def fit(self, model, loader):
        self.optimizer = model.configure_optimizers()
        if torch.cuda.is_available():
            model.cuda(self.root_gpu)  # expect: GG105
        for _ in range(self.max_epochs):
            for x, y in loader:
                self.optimizer.zero_grad()
                nn.functional.cross_entropy(model(x), y).backward()
                self.optimizer.step()


Trainer().fit(LitModel(), [(torch.randn(2, 1, 28, 28), torch.randint(0, 10, (2,)))])
