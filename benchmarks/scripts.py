"""Generated but realistic training scripts of a chosen length.

Each script is a header of imports followed by numbered copies of a block of ordinary
training code (a model, weight initialisation, a data loop, fine-tuning, a hand-written
update) that carries the bugs GradGuard looks for: an optimizer left holding a
replaced layer, ``zero_grad`` between ``backward`` and ``step``, an optimizer built in
the loop, a manual update that rebinds a leaf, ``.grad.zero_()`` before any backward,
``None`` written over a parameter, a misspelled ``__init__``. ``models.py`` beside the
scripts holds a model class the scripts import, so that hovers and the classification of
imported names go through jedi.
"""

from __future__ import annotations

from pathlib import Path

HEADER = '''"""A training script (generated for GradGuard's benchmarks)."""

import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader, TensorDataset

from models import ResidualNet

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"

'''

BLOCK = '''
class Backbone{n}(nn.Module):
    """Block {n}: a small CNN with a classification head."""

    def __init__(self, num_classes=10, width=16):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.fc = nn.Linear(width, num_classes)
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x):
        return self.fc(self.features(x)) * self.scale


class Gate{n}(nn.Module):
    def _init_(self, dim):
        super().__init__()
        self.proj = nn.Linear(dim, 1)

    def forward(self, x):
        return torch.sigmoid(self.proj(x)) * x


def init_weights_{n}(m):
    if isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight)
        nn.init.zeros_(m.bias)


def make_loader_{n}(batch_size=8):
    images = torch.randn(64, 3, 32, 32)
    labels = torch.randint(0, 10, (64,))
    return DataLoader(TensorDataset(images, labels), batch_size=batch_size, shuffle=True)


def train_{n}(epochs=2, lr=0.01):
    model = Backbone{n}()
    model.apply(init_weights_{n})
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.5)
    model.fc = nn.Linear(16, 3)
    model.to(DEVICE)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        for images, labels in make_loader_{n}():
            images, labels = images.to(DEVICE), labels.to(DEVICE)
            loss = criterion(model(images), labels % 3)
            loss.backward()
            optimizer.zero_grad()
            optimizer.step()
        scheduler.step()
    return model


def fine_tune_{n}(data, lr=1e-4):
    model = ResidualNet()
    for inputs, targets in data:
        optimizer = optim.Adam(model.parameters(), lr=lr)
        loss = F.cross_entropy(model(inputs), targets)
        loss.backward()
        optimizer.step()
    return model


def manual_sgd_{n}(steps=50, lr=0.1):
    x = torch.randn(100, 3, device=DEVICE)
    y = x @ torch.tensor([1.0, -2.0, 0.5], device=DEVICE) + 0.1
    w = torch.randn(3, requires_grad=True).to(DEVICE)
    b = torch.zeros(1, requires_grad=True, device=DEVICE)
    b.grad.zero_()
    for _ in range(steps):
        loss = ((x @ w + b - y) ** 2).mean()
        loss.backward()
        w = w - lr * w.grad
        with torch.no_grad():
            b -= lr * b.grad
        b.grad.zero_()
    return w, b


def prune_{n}(model):
    if model.fc.weight.abs().mean() < 1e-3:
        model.fc.weight = None
    return math.isfinite(float(os.environ.get("GG_SCALE_{n}", "1")))

'''

FOOTER = """
if __name__ == "__main__":
    train_0()
"""

MODELS = '''"""Models shared by the generated training scripts."""

import torch
from torch import nn


class ResidualNet(nn.Module):
    def __init__(self, dim=32, depth=2):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(dim, dim) for _ in range(depth))
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        for layer in self.layers:
            x = x + torch.relu(layer(x))
        return self.head(x)
'''


def training_script(lines: int) -> str:
    """A script of about ``lines`` lines (at least one block)."""
    overhead = HEADER.count("\n") + FOOTER.count("\n")
    blocks = max(1, round((lines - overhead) / BLOCK.count("\n")))
    return HEADER + "".join(BLOCK.format(n=n) for n in range(blocks)) + FOOTER


def write_workspace(folder: Path, sizes: dict[str, int]) -> dict[str, Path]:
    """``models.py`` plus one script per (name, lines); returns the scripts' paths."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "models.py").write_text(MODELS)
    written = {}
    for name, lines in sizes.items():
        path = folder / f"{name}.py"
        path.write_text(training_script(lines))
        written[name] = path
    return written
