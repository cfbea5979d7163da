"""Next ring: Lightning runs configure_optimizers() before a callback's on_fit_start()."""

import lightning.pytorch as pl
import torch
from torch import nn


class LitClassifier(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU())
        self.model.fc = nn.Linear(128, 10)

    def forward(self, x):
        return self.model.fc(self.model(x))

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.cross_entropy(self(x), y)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


class NewHead(pl.Callback):
    def on_fit_start(self, trainer, pl_module):
        pl_module.model.fc = nn.Linear(128, 5)  # expect: GG102


trainer = pl.Trainer(max_epochs=1, callbacks=[NewHead()])
