"""Two-file workspace: the Finetuner of trainer.py builds its optimizer in __init__; this script
replaces the head afterwards (directly, and through the trainer's own method) and trains."""

import torch
from torch import nn
from torchvision import models
from trainer import Finetuner

DATA = [(torch.randn(2, 3, 64, 64), torch.randint(0, 4, (2,)))]


def swap_then_train():
    tuner = Finetuner(models.resnet18(weights=None))
    tuner.model.fc = nn.Linear(512, 4)  # expect: GG102
    tuner.fit(DATA)


def swap_with_the_method_then_train():
    tuner = Finetuner(models.resnet18(weights=None))
    tuner.replace_head(4)  # expect: GG102
    tuner.fit(DATA, epochs=2)


if __name__ == "__main__":
    swap_then_train()
    swap_with_the_method_then_train()
