"""The project's trainer module: __init__ builds the optimizer from the model it is given."""

from torch import nn, optim


class Finetuner:
    def __init__(self, model, lr=1e-3):
        self.model = model
        self.optimizer = optim.AdamW(self.model.parameters(), lr=lr)

    def replace_head(self, num_classes):
        self.model.fc = nn.Linear(self.model.fc.in_features, num_classes)

    def reset_optimizer(self, lr=1e-3):
        self.optimizer = optim.AdamW(self.model.parameters(), lr=lr)

    def training_step(self, x, y):
        self.optimizer.zero_grad()
        loss = nn.functional.cross_entropy(self.model(x), y)
        loss.backward()
        self.optimizer.step()

    def fit(self, loader, epochs=1):
        for _ in range(epochs):
            for x, y in loader:
                self.training_step(x, y)
