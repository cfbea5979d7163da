# Source: https://github.com/wkentaro/pytorch-fcn/issues/57
"""Ring 3, negative: the fix, `self.model.train()` right after `self.validate()`."""

import torch
from torch import nn


class Trainer:
    def __init__(self, model, optimizer, train_loader, val_loader, interval_validate=2):
        self.model = model
        self.optim = optimizer
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.interval_validate = interval_validate
        self.iteration = 0

    def validate(self):
        self.model.eval()
        with torch.no_grad():
            for x, y in self.val_loader:
                nn.functional.cross_entropy(self.model(x), y)

    def train_epoch(self):
        self.model.train()
        for _batch_idx, (x, y) in enumerate(self.train_loader):
            self.iteration += 1
            if self.iteration % self.interval_validate == 0:
                self.validate()
                self.model.train()
            self.optim.zero_grad()
            loss = nn.functional.cross_entropy(self.model(x), y)
            loss.backward()
            self.optim.step()

    def train(self, max_epoch):
        for _epoch in range(max_epoch):
            self.train_epoch()


model = nn.Sequential(nn.Linear(10, 16), nn.Dropout(0.5), nn.Linear(16, 3))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
loader = [(torch.randn(4, 10), torch.randint(0, 3, (4,)))] * 5
Trainer(model, optimizer, loader, loader).train(max_epoch=2)
