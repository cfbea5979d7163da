# Source: https://github.com/pytorch/examples/issues/1196
"""Ring 3: a DDP-style `Trainer` keeps its scaler, model and optimizer on `self`; `_run_batch`
clips between the scaled backward and `scaler.step` without unscaling."""

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class TrainerConfig:
    max_epochs: int = 1
    grad_norm_clip: float = 1.0
    use_amp: bool = True


class Trainer:
    def __init__(self, config, model, optimizer, loader):
        self.config = config
        self.model = model
        self.optimizer = optimizer
        self.loader = loader
        self.scaler = torch.amp.GradScaler("cpu", enabled=config.use_amp)

    def _run_batch(self, source, targets):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.config.use_amp):
            logits = self.model(source)
            loss = nn.functional.cross_entropy(logits.float(), targets)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        torch.nn.utils.clip_grad_norm_(  # expect: GG502
            self.model.parameters(), self.config.grad_norm_clip
        )
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss.item()

    def _run_epoch(self, epoch):
        for source, targets in self.loader:
            self._run_batch(source, targets)

    def train(self):
        for epoch in range(self.config.max_epochs):
            self._run_epoch(epoch)


model = nn.Linear(16, 4)
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
loader = [(torch.randn(8, 16), torch.randint(0, 4, (8,)))] * 2
Trainer(TrainerConfig(), model, optimizer, loader).train()
