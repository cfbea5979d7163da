"""Objects across methods (negative): the classifier is swapped before the optimizer is built in
the trainer's constructor call."""

import torch
from torch import nn, optim


class Trainer:
    def __init__(self, model, optimizer, max_epochs=1):
        self.model = model
        self.optimizer = optimizer
        self.max_epochs = max_epochs

    def fit(self, loader):
        for _ in range(self.max_epochs):
            for x, y in loader:
                self.optimizer.zero_grad()
                loss = nn.functional.cross_entropy(self.model(x), y)
                loss.backward()
                self.optimizer.step()


model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 128), nn.ReLU())
model.classifier = nn.Linear(128, 26)
trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.05, momentum=0.9), max_epochs=2)
trainer.fit([(torch.randn(4, 1, 28, 28), torch.randint(0, 26, (4,)))])
