"""Realistic training scripts for the editor benchmark: library-like code (blocks,
initialisers, metrics, schedules, data helpers, checkpoints) plus a training program
whose ``main()`` calls every function of the file and drives a trainer class.

This is the shape an independent LSP client measured (issue 16): ``main()`` mentions
every function, so an edit anywhere reaches it. The scripts are ASCII; each copy holds
one finding (GG402: ``train_step`` steps without clearing, called in ``warm_up``'s loop).
"""

from __future__ import annotations

HEADER = '''"""A training program with its library code in one file (GradGuard's benchmarks)."""

import argparse
import json
import math
import os
import time
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

'''

LIBRARY = """

@dataclass
class Config{n}:
    width: int = 32
    depth: int = 2
    dropout: float = 0.1
    lr: float = 1e-3
    weight_decay: float = 0.05
    epochs: int = 2
    batch_size: int = 16
    warmup: int = 10
    tags: list = field(default_factory=list)


def parse_config_{n}(text):
    values = json.loads(text) if text else {{}}
    config = Config{n}()
    for key, value in values.items():
        if hasattr(config, key):
            setattr(config, key, type(getattr(config, key))(value))
    return config


class ConvBlock{n}(nn.Module):
    def __init__(self, channels, expansion=2, dropout=0.0):
        super().__init__()
        hidden = channels * expansion
        self.conv1 = nn.Conv2d(channels, hidden, 3, padding=1, bias=False)
        self.norm1 = nn.BatchNorm2d(hidden)
        self.conv2 = nn.Conv2d(hidden, channels, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(channels)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        shortcut = x
        x = F.relu(self.norm1(self.conv1(x)))
        x = self.drop(x)
        x = self.norm2(self.conv2(x))
        return F.relu(x + shortcut)


class Classifier{n}(nn.Module):
    def __init__(self, channels=16, num_classes=10, depth=2, dropout=0.1):
        super().__init__()
        self.stem = nn.Conv2d(3, channels, 3, padding=1)
        blocks = [ConvBlock{n}(channels, dropout=dropout) for _ in range(depth)]
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(channels, num_classes)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.head(torch.flatten(self.pool(x), 1))


def init_weights_{n}(module):
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out")


def count_parameters_{n}(model, trainable_only=True):
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def param_groups_{n}(model, weight_decay):
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if param.ndim <= 1 or name.endswith(".bias"):
            no_decay.append(param)
        else:
            decay.append(param)
    return [
        {{"params": decay, "weight_decay": weight_decay}},
        {{"params": no_decay, "weight_decay": 0.0}},
    ]


def cosine_lr_{n}(step, total, warmup, base_lr):
    if step < warmup:
        return base_lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * base_lr * (1.0 + math.cos(math.pi * progress))


class AverageMeter{n}:
    def __init__(self, name):
        self.name = name
        self.reset()

    def reset(self):
        self.total = 0.0
        self.count = 0

    def update(self, value, n=1):
        self.total += float(value) * n
        self.count += n

    @property
    def average(self):
        return self.total / max(1, self.count)


def accuracy_{n}(logits, targets, topk=(1,)):
    maxk = max(topk)
    _, predicted = logits.topk(maxk, dim=1)
    correct = predicted.eq(targets.view(-1, 1))
    return [correct[:, :k].float().sum().item() / targets.size(0) for k in topk]


def make_loader_{n}(samples=64, batch_size=16, shuffle=True):
    images = torch.randn(samples, 3, 16, 16)
    labels = torch.randint(0, 10, (samples,))
    return DataLoader(TensorDataset(images, labels), batch_size=batch_size, shuffle=shuffle)


def save_checkpoint_{n}(path, model, optimizer, epoch):
    state = {{"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}}
    torch.save(state, path)
    return path


def load_checkpoint_{n}(path, model, optimizer=None):
    if not os.path.exists(path):
        return 0
    state = torch.load(path, map_location="cpu")
    model.load_state_dict(state["model"])
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    return state["epoch"] + 1


def log_metrics_{n}(step, metrics, every=10):
    if step % every:
        return None
    line = " ".join(f"{{key}}={{value:.4f}}" for key, value in sorted(metrics.items()))
    print(f"step {{step}}: {{line}}")
    return line

"""

PROGRAM = '''

class Trainer{n}:
    """Holds the model, the optimizer and the loaders; fit() runs the epochs."""

    def __init__(self, model, optimizer, loader, config):
        self.model = model
        self.optimizer = optimizer
        self.loader = loader
        self.config = config
        self.criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
        self.meter = AverageMeter{n}("loss")
        self.step = 0

    def train_one_epoch(self, epoch):
        self.model.train()
        self.meter.reset()
        for images, labels in self.loader:
            for group in self.optimizer.param_groups:
                group["lr"] = cosine_lr_{n}(self.step, 100, self.config.warmup, self.config.lr)
            self.optimizer.zero_grad()
            loss = self.criterion(self.model(images), labels)
            loss.backward()
            self.optimizer.step()
            self.meter.update(loss.item(), images.size(0))
            self.step += 1
            log_metrics_{n}(self.step, {{"loss": self.meter.average}})
        return self.meter.average

    @torch.no_grad()
    def evaluate(self, loader):
        self.model.eval()
        correct, seen = 0.0, 0
        for images, labels in loader:
            top1 = accuracy_{n}(self.model(images), labels)[0]
            correct += top1 * labels.size(0)
            seen += labels.size(0)
        self.model.train()
        return correct / max(1, seen)

    def fit(self, val_loader, checkpoint):
        start = load_checkpoint_{n}(checkpoint, self.model, self.optimizer)
        best = 0.0
        for epoch in range(start, self.config.epochs):
            started = time.perf_counter()
            loss = self.train_one_epoch(epoch)
            score = self.evaluate(val_loader)
            if score > best:
                best = score
                save_checkpoint_{n}(checkpoint, self.model, self.optimizer, epoch)
            took = time.perf_counter() - started
            log_metrics_{n}(epoch, {{"loss": loss, "acc": score, "s": took}}, every=1)
        return best


def build_model_{n}(config):
    model = Classifier{n}(depth=config.depth, dropout=config.dropout)
    model.apply(init_weights_{n})
    return model


def build_optimizer_{n}(model, config):
    groups = param_groups_{n}(model, config.weight_decay)
    return torch.optim.AdamW(groups, lr=config.lr)


def train_step_{n}(model, optimizer, images, labels):
    loss = F.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss.item()


def warm_up_{n}(model, optimizer, loader, steps=5):
    for step, (images, labels) in enumerate(loader):
        if step >= steps:
            break
        train_step_{n}(model, optimizer, images, labels)

'''

MAIN_HEAD = """

def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="")
    parser.add_argument("--checkpoint", default="checkpoint.pt")
    args = parser.parse_args(argv)
"""

MAIN_BLOCK = """    config_{n} = parse_config_{n}(args.config)
    model_{n} = build_model_{n}(config_{n})
    print(count_parameters_{n}(model_{n}))
    optimizer_{n} = build_optimizer_{n}(model_{n}, config_{n})
    loader_{n} = make_loader_{n}(batch_size=config_{n}.batch_size)
    warm_up_{n}(model_{n}, optimizer_{n}, loader_{n})
    trainer_{n} = Trainer{n}(model_{n}, optimizer_{n}, loader_{n}, config_{n})
    trainer_{n}.fit(make_loader_{n}(shuffle=False), args.checkpoint)
"""

FOOTER = """

if __name__ == "__main__":
    main()
"""

#: What the editor benchmark types, one character per didChange, inside a function body.
TYPED = "running = running * 0.9 + loss.item() * 0.1"


def realistic_script(lines: int) -> str:
    """About ``lines`` lines: library blocks, one training program per block, and a
    ``main()`` that calls every function of every block."""
    per_copy = sum(part.count("\n") for part in (LIBRARY, PROGRAM, MAIN_BLOCK))
    overhead = sum(part.count("\n") for part in (HEADER, MAIN_HEAD, FOOTER))
    copies = max(1, round((lines - overhead) / per_copy))
    library = "".join(LIBRARY.format(n=n) + PROGRAM.format(n=n) for n in range(copies))
    main = MAIN_HEAD + "".join(MAIN_BLOCK.format(n=n) for n in range(copies))
    return HEADER + library + main + FOOTER


def edit_point(text: str) -> tuple[int, str]:
    """The line after which typing happens (0-based) and its indentation: inside the
    middle copy's ``Trainer.train_one_epoch`` loop, after ``loss.backward()``."""
    lines = text.splitlines()
    copies = text.count("def train_one_epoch(")
    seen = 0
    for number, line in enumerate(lines):
        if "def train_one_epoch(" in line:
            seen += 1
        if seen == copies // 2 + 1 and line.strip() == "loss.backward()":
            return number, line[: len(line) - len(line.lstrip())]
    raise ValueError("no edit point")
