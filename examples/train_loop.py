"""A small classifier trained with a few common training-loop mistakes."""

import torch
from torch import nn
from torch.nn.utils import clip_grad_norm_
from torch.optim import Adam, AdamW


def make_model():
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 2))


def train(epochs=3):
    model = make_model()
    trainable = filter(lambda p: p.requires_grad, model.parameters())
    optimizer = AdamW(trainable, lr=1e-3)
    criterion = nn.CrossEntropyLoss()

    for epoch in range(epochs):
        for _ in range(10):
            inputs, targets = torch.randn(16, 20), torch.randint(0, 2, (16,))
            loss = criterion(model(inputs), targets)
            loss.backward()
            optimizer.zero_grad()
            clip_grad_norm_(trainable, max_norm=1.0)
            optimizer.step()


def fine_tune(model, data):
    for inputs, targets in data:
        optimizer = Adam(model.parameters(), lr=1e-4)
        loss = nn.functional.cross_entropy(model(inputs), targets)
        loss.backward()
        optimizer.step()


def two_heads(backbone):
    groups = [{"params": backbone.parameters()}]
    slow = torch.optim.SGD(groups, lr=0.01)
    fast = torch.optim.SGD(groups, lr=0.5)
    return slow, fast


if __name__ == "__main__":
    train()
