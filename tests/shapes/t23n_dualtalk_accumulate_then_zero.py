# Source: https://github.com/ZiqiaoPeng/DualTalk/issues/9
"""Ring 3, negative: the fix suggested in the issue, the gradients are cleared only at the
accumulation boundary."""

import argparse

import torch
from torch import nn


def trainer(args, train_loader, model, optimizer, epoch):
    loss_log = []
    for i, (audio, vertice) in enumerate(train_loader):
        if i % args.gradient_accumulation_steps == 0:
            optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(audio), vertice)
        loss = loss / args.gradient_accumulation_steps
        loss.backward()
        loss_log.append(loss.item())
        if (i + 1) % args.gradient_accumulation_steps == 0 or i + 1 == len(train_loader):
            optimizer.step()
    return sum(loss_log) / len(loss_log)


parser = argparse.ArgumentParser()
parser.add_argument("--gradient_accumulation_steps", type=int, default=4)
parser.add_argument("--max_epoch", type=int, default=2)
args = parser.parse_args([])
model = nn.Linear(32, 15)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
loader = [(torch.randn(2, 32), torch.randn(2, 15))] * 8
for epoch in range(args.max_epoch):
    trainer(args, loader, model, optimizer, epoch)
