"""Objects across methods (negative): after swapping the head the script asks the trainer to
build its optimizer again, so the new classifier is trained."""

import torch
from torch import nn, optim


class Backbone(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(32, 64), nn.ReLU())
        self.classifier = nn.Linear(64, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x))


class Finetuner:
    def __init__(self, model, lr=1e-3, weight_decay=0.0):
        self.model = model
        self.optimizer = optim.AdamW(self.model.parameters(), lr=lr, weight_decay=weight_decay)

    def training_step(self, batch):
        x, y = batch
        self.optimizer.zero_grad()
        loss = nn.functional.cross_entropy(self.model(x), y)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def reset_optimizer(self, lr=1e-3):
        self.optimizer = optim.AdamW(self.model.parameters(), lr=lr)

    def fit(self, loader, epochs):
        for _ in range(epochs):
            for batch in loader:
                self.training_step(batch)


if __name__ == "__main__":
    tuner = Finetuner(Backbone(), lr=3e-4)
    tuner.model.classifier = nn.Linear(64, 7)
    tuner.reset_optimizer(lr=3e-4)
    data = [(torch.randn(4, 32), torch.randint(0, 7, (4,)))]
    tuner.fit(data, epochs=3)
