"""Two-file workspace (negative): the head is replaced before the Finetuner of trainer.py builds
its optimizer, or the trainer builds its optimizer again after the replacement."""

import torch
from torch import nn
from torchvision import models
from trainer import Finetuner

DATA = [(torch.randn(2, 3, 64, 64), torch.randint(0, 4, (2,)))]


def swap_before_the_trainer():
    model = models.resnet18(weights=None)
    model.fc = nn.Linear(512, 4)
    tuner = Finetuner(model)
    tuner.fit(DATA)


def swap_then_rebuild():
    tuner = Finetuner(models.resnet18(weights=None))
    tuner.replace_head(4)
    tuner.reset_optimizer(lr=3e-4)
    tuner.fit(DATA, epochs=2)


if __name__ == "__main__":
    swap_before_the_trainer()
    swap_then_rebuild()
