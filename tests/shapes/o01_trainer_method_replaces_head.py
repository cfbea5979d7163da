"""Objects across methods: main() hands the model and its optimizer to a trainer, then asks the
trainer to replace the head; the trainer keeps stepping the optimizer built before."""

import torch
from torch import nn, optim


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(16, 16)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc(torch.relu(self.body(x)))


class Trainer:
    def __init__(self, model, optimizer, device="cpu"):
        self.model = model
        self.optimizer = optimizer
        self.device = device

    def replace_head(self, num_classes):
        self.model.fc = nn.Linear(16, num_classes)

    def fit(self, loader, epochs=1):
        self.model.train()
        for _ in range(epochs):
            for x, y in loader:
                self.optimizer.zero_grad()
                loss = nn.functional.cross_entropy(self.model(x), y)
                loss.backward()
                self.optimizer.step()


def main():
    model = Net()
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    trainer = Trainer(model, optimizer)
    trainer.replace_head(3)  # expect: GG102
    loader = [(torch.randn(8, 16), torch.randint(0, 3, (8,)))]
    trainer.fit(loader, epochs=2)


if __name__ == "__main__":
    main()
