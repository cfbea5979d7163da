"""Objects across methods (negative): the head is replaced before the optimizer is built and
handed to the trainer."""

import torch
from torch import nn, optim
from torchvision import models


class Trainer:
    def __init__(self, model, optimizer, scheduler=None):
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler

    def train_epoch(self, loader):
        for images, labels in loader:
            self.optimizer.zero_grad()
            loss = nn.functional.cross_entropy(self.model(images), labels)
            loss.backward()
            self.optimizer.step()

    def fit(self, loader, epochs):
        for _ in range(epochs):
            self.train_epoch(loader)


def build(num_classes):
    model = models.resnet18(weights=None)
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    trainer = Trainer(model, optimizer)
    return trainer


trainer = build(5)
trainer.fit([(torch.randn(2, 3, 64, 64), torch.randint(0, 5, (2,)))], epochs=1)
