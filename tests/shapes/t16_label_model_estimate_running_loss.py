# Source: https://github.com/BatsResearch/labelmodels/issues/4
"""Ring 3: a label model's `_do_estimate` method keeps an epoch's `running_loss` as the sum of
the non-detached batch losses, only to print it."""

import torch
from torch import nn


class LabelModel(nn.Module):
    def __init__(self, num_classes, num_lfs):
        super().__init__()
        self.accuracy = nn.Parameter(torch.full((num_lfs,), 0.7))
        self.class_balance = nn.Parameter(torch.zeros(num_classes))

    def forward(self, votes):
        return votes.float() @ self.accuracy.unsqueeze(1) + self.class_balance.sum()

    def _do_estimate(self, batches, epochs=2, lr=0.01):
        optimizer = torch.optim.SGD(self.parameters(), lr=lr)
        for epoch in range(epochs):
            running_loss = 0.0
            for _i_batch, inputs in enumerate(batches):
                optimizer.zero_grad()
                log_likelihood = self(inputs)
                loss = -1 * torch.mean(log_likelihood)
                loss.backward()
                optimizer.step()
                running_loss += loss  # expect: GG506
            print(f"Epoch {epoch + 1}: {running_loss / len(batches)}")


LabelModel(num_classes=2, num_lfs=3)._do_estimate([torch.randint(-1, 2, (8, 3))] * 4)
