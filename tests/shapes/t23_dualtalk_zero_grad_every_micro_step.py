# Source: https://github.com/ZiqiaoPeng/DualTalk/issues/9
"""Ring 3: gradient accumulation in `trainer(args, train_loader, model, optimizer, epoch)`
clears the gradients before every backward, so each step sees one micro-batch."""

import argparse

import torch
from torch import nn


def trainer(args, train_loader, model, optimizer, epoch):
    loss_log = []
    for i, (audio, vertice) in enumerate(train_loader):
        loss = nn.functional.mse_loss(model(audio), vertice)
        optimizer.zero_grad()  # expect: GG403
        loss.backward()
        loss_log.append(loss.item())
        if i % args.gradient_accumulation_steps == 0:
            optimizer.step()
            optimizer.zero_grad()
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
