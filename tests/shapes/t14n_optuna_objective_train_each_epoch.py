# Source: https://github.com/optuna/optuna/pull/1725
"""Ring 3, negative: the merged fix, `model.train()` at the top of every epoch."""

import torch
from torch import nn


def define_model(trial_params):
    layers = [nn.Linear(20, trial_params["units"]), nn.ReLU(), nn.Dropout(trial_params["p"])]
    layers.append(nn.Linear(trial_params["units"], 10))
    return nn.Sequential(*layers)


def objective(trial_params, train_loader, valid_loader, epochs=3):
    model = define_model(trial_params)
    optimizer = torch.optim.Adam(model.parameters(), lr=trial_params["lr"])
    for _epoch in range(epochs):
        model.train()
        for data, target in train_loader:
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(data), target)
            loss.backward()
            optimizer.step()

        model.eval()
        correct = 0
        with torch.no_grad():
            for data, target in valid_loader:
                correct += model(data).argmax(dim=1).eq(target).sum().item()
    return correct / len(valid_loader)


loader = [(torch.randn(8, 20), torch.randint(0, 10, (8,)))] * 2
objective({"units": 16, "p": 0.3, "lr": 1e-3}, loader, loader)
