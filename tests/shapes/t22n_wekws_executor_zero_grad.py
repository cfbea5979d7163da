# Source: https://github.com/wenet-e2e/wekws/pull/73
"""Ring 3, negative: the merged fix, `optimizer.zero_grad()` before the backward."""

import torch
from torch import nn


class Executor:
    def __init__(self):
        self.step = 0

    def train(self, model, optimizer, data_loader, device, args):
        model.train()
        clip = args.get("grad_clip", 50)
        for _batch_idx, (feats, target) in enumerate(data_loader):
            feats, target = feats.to(device), target.to(device)
            logits = model(feats)
            loss = nn.functional.cross_entropy(logits, target)
            optimizer.zero_grad()
            loss.backward()
            grad_norm = nn.utils.clip_grad_norm_(model.parameters(), clip)
            if torch.isfinite(grad_norm):
                optimizer.step()
            self.step += 1


model = nn.Sequential(nn.Linear(40, 32), nn.ReLU(), nn.Linear(32, 2))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
loader = [(torch.randn(4, 40), torch.randint(0, 2, (4,)))] * 3
Executor().train(model, optimizer, loader, torch.device("cpu"), {"grad_clip": 5})
