# Source: https://github.com/samuelyu2002/ImVisible/issues/2
"""Ring 3: a notebook-style script sums its two losses into running totals without `.item()`,
in the training loop and again in the validation loop (no `no_grad`)."""

import torch
from torch import nn

model = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 5))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
mse = nn.MSELoss()
ce = nn.CrossEntropyLoss()
train_loader = [(torch.randn(4, 12), torch.randn(4, 2), torch.randint(0, 3, (4,)))] * 3
val_loader = train_loader

for epoch in range(2):
    running_loss = 0.0
    running_loss_mse = 0.0
    model.train()
    for x, points, label in train_loader:
        optimizer.zero_grad()
        out = model(x)
        MSE = mse(out[:, :2], points)
        cross_entropy = ce(out[:, 2:], label)
        loss = MSE + cross_entropy
        loss.backward()
        optimizer.step()
        running_loss += loss  # expect: GG506
        running_loss_mse += MSE  # expect: GG506

    model.eval()
    val_running_loss = 0.0
    for x, points, label in val_loader:
        out = model(x)
        loss = mse(out[:, :2], points) + ce(out[:, 2:], label)
        val_running_loss += loss  # expect: GG506
    print(epoch, running_loss / 3, val_running_loss / 3)
