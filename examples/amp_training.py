"""Mixed-precision training with gradient accumulation: the training-step hazards."""

import torch
from torch import nn
from torch.optim.lr_scheduler import OneCycleLR


def train_one_epoch(model, loader, optimizer, scheduler, scaler, accumulation_steps=4):
    model.train()
    for i, (inputs, targets) in enumerate(loader):
        optimizer.zero_grad()
        with torch.autocast("cuda", dtype=torch.float16):
            loss = nn.functional.cross_entropy(model(inputs), targets) / accumulation_steps
        scaler.scale(loss).backward()
        if (i + 1) % accumulation_steps == 0:
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            scheduler.step()
            scaler.step(optimizer)


def finetune(model, loader, optimizer, scaler):
    for inputs, targets in loader:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(inputs), targets)
        scaler.scale(loss).backward()
        optimizer.step()
        scaler.update()


def main(loader, epochs=3):
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = OneCycleLR(optimizer, max_lr=1e-3, total_steps=epochs * len(loader))
    scaler = torch.amp.GradScaler("cuda")
    for epoch in range(epochs):
        train_one_epoch(model, loader, optimizer, scheduler, scaler)
    finetune(model, loader, optimizer, scaler)
