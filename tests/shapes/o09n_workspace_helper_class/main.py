"""Two-file workspace (negative): the helper class of surgery.py replaces the classifier before the
optimizer is built, and its describe() only reads the model."""

import torch
from surgery import Surgeon
from torch import nn, optim


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Linear(12, 24)
        self.classifier = nn.Linear(24, 10)

    def forward(self, x):
        return self.classifier(torch.relu(self.features(x)))


def main():
    model = Net()
    surgeon = Surgeon(num_classes=3)
    surgeon.replace_head(model)
    optimizer = optim.SGD(model.parameters(), lr=0.05)
    print(surgeon.describe(model))
    for _ in range(3):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(torch.randn(4, 12)), torch.randint(0, 3, (4,)))
        loss.backward()
        optimizer.step()


main()
