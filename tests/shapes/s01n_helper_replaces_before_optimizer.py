"""Shape 1, negative: the same helper, called before the optimizer is built."""

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


def main():
    model = speedup(Net())
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    for x, y in [(torch.randn(8, 784), torch.randint(0, 10, (8,)))]:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()


main()
