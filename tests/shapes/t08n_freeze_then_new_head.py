# Source: https://github.com/lxztju/pytorch_classification/issues/13
"""Ring 3, negative: the backbone is frozen first and the new classifier is trainable."""

from torch import nn, optim

cfg = {"NUM_CLASSES": 5, "LR": 1e-3}


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.fc = nn.Linear(8, 1000)

    def forward(self, x):
        return self.fc(self.features(x).flatten(1))


model = Backbone()
for param in model.parameters():
    param.requires_grad = False
model.fc = nn.Linear(model.fc.in_features, cfg["NUM_CLASSES"])
optimizer = optim.Adam(filter(lambda p: p.requires_grad, model.parameters()), lr=cfg["LR"])
