"""Objects across methods: a stage callback replaces the trainer's model head between two
stages; the trainer's optimizer was built in __init__ and the second stage still steps it."""

import torch
from torch import nn, optim


class Trainer:
    def __init__(self, model, lr=0.1):
        self.model = model
        self.optimizer = optim.SGD(self.model.parameters(), lr=lr, momentum=0.9)

    def run_stage(self, loader):
        for x, y in loader:
            self.optimizer.zero_grad()
            loss = nn.functional.cross_entropy(self.model(x), y)
            loss.backward()
            self.optimizer.step()


class GrowHead:
    def __init__(self, num_classes):
        self.num_classes = num_classes

    def on_stage_end(self, trainer):
        old = trainer.model[-1]
        trainer.model[-1] = nn.Linear(old.in_features, self.num_classes)


model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 5))
trainer = Trainer(model)
callback = GrowHead(num_classes=10)
stages = [
    [(torch.randn(4, 20), torch.randint(0, 5, (4,)))],
    [(torch.randn(4, 20), torch.randint(0, 10, (4,)))],
]
trainer.run_stage(stages[0])
callback.on_stage_end(trainer)  # expect: GG102
trainer.run_stage(stages[1])
