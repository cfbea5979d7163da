"""Shape 1: a helper builds the new layer in a local, called after the optimizer exists."""

import torch
from torch import nn, optim


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def speedup(model):
    new = nn.Linear(784, 128)
    model.fc1 = new
    return model


def train_one_epoch(model, optimizer, loader):
    for x, y in loader:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()


def main():
    model = Net()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    model = speedup(model)  # expect: GG102
    loader = [(torch.randn(8, 784), torch.randint(0, 10, (8,)))]
    train_one_epoch(model, optimizer, loader)


if __name__ == "__main__":
    main()
