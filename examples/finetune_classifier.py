"""Fine-tune a small CNN's head on random data (transfer-learning style)."""

import torch
import torch.nn as nn
import torch.optim as optim


class Backbone(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        return self.fc(self.features(x))


def init_weights(m):
    if isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight)
        nn.init.zeros_(m.bias)


def main():
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = Backbone()
    model.apply(init_weights)
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    # New task with 3 classes: swap the head.
    model.fc = nn.Linear(16, 3)
    model.to(device)

    criterion = nn.CrossEntropyLoss()
    for step in range(20):
        images = torch.randn(8, 3, 32, 32, device=device)
        labels = torch.randint(0, 3, (8,), device=device)
        optimizer.zero_grad()
        loss = criterion(model(images), labels)
        loss.backward()
        optimizer.step()


if __name__ == "__main__":
    main()
