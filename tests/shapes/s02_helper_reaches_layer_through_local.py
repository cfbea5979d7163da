"""Shape 2: fine-tuning helper reaches the head through a local alias of a submodule."""

import torch
import torch.nn as nn


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3)
        self.fc = nn.Linear(16, 1000)

    def forward(self, x):
        return self.fc(self.conv(x).mean((2, 3)))


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = Backbone()

    def forward(self, x):
        return self.backbone(x)


def set_num_classes(m, num_classes):
    inner = m.backbone
    inner.fc = nn.Linear(16, num_classes)


class Trainer:
    def __init__(self, num_classes):
        self.model = Classifier()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=3e-4)
        set_num_classes(self.model, num_classes)  # expect: GG102

    def fit(self, loader):
        for images, labels in loader:
            self.optimizer.zero_grad()
            loss = nn.functional.cross_entropy(self.model(images), labels)
            loss.backward()
            self.optimizer.step()


Trainer(10).fit([(torch.randn(2, 3, 8, 8), torch.tensor([1, 2]))])
