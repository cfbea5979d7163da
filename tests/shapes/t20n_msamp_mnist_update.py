# Source: https://github.com/Azure/MS-AMP/pull/45
"""Ring 3, negative: the merged fix, `scaler.update()` after `scaler.step(optimizer)`."""

import argparse

import torch
from torch import nn
from torch.nn import functional as F


def train(args, model, device, train_loader, optimizer, epoch, scaler):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        with torch.autocast(device.type, dtype=torch.bfloat16):
            output = model(data)
        loss = F.nll_loss(F.log_softmax(output.float(), dim=1), target)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        if batch_idx % args.log_interval == 0:
            print(epoch, batch_idx, loss.item())


parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--log-interval", type=int, default=10)
args = parser.parse_args([])
device = torch.device("cpu")
model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10)).to(device)
optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
scaler = torch.amp.GradScaler(device.type)
loader = [(torch.randn(4, 1, 28, 28), torch.randint(0, 10, (4,)))] * 2
for epoch in range(1, args.epochs + 1):
    train(args, model, device, loader, optimizer, epoch, scaler)
