"""Next ring, negative: the classifier is rebuilt from its own children (no new parameters)."""

import torch
from torch import nn

model = nn.Module()
model.features = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU())
model.classifier = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 10))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
model.classifier = nn.Sequential(*list(model.classifier.children())[:-1])
for x in [torch.randn(1, 8)]:
    optimizer.zero_grad()
    model.classifier(x).sum().backward()
    optimizer.step()
