# Source: https://github.com/milesial/Pytorch-UNet/issues/468
"""Ring 3: `train_model(...)` with an AMP flag clips the scaled gradients (no `unscale_` between
the scaled backward and the clip)."""

import argparse

import torch
from torch import nn


def train_model(model, device, epochs=1, learning_rate=1e-5, amp=False, gradient_clipping=1.0):
    loader = [(torch.randn(2, 3, 8, 8), torch.randint(0, 2, (2, 8, 8)))] * 2
    optimizer = torch.optim.RMSprop(model.parameters(), lr=learning_rate, momentum=0.999)
    grad_scaler = torch.amp.GradScaler(device.type, enabled=amp)
    criterion = nn.CrossEntropyLoss()
    for _epoch in range(1, epochs + 1):
        model.train()
        for images, true_masks in loader:
            with torch.autocast(device.type, enabled=amp):
                masks_pred = model(images)
                loss = criterion(masks_pred, true_masks)
            optimizer.zero_grad(set_to_none=True)
            grad_scaler.scale(loss).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), gradient_clipping)  # expect: GG502
            grad_scaler.step(optimizer)
            grad_scaler.update()


parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--amp", action="store_true", default=False)
args = parser.parse_args(["--amp"])
model = nn.Conv2d(3, 2, 3, padding=1)
train_model(model, torch.device("cpu"), epochs=args.epochs, amp=args.amp)
