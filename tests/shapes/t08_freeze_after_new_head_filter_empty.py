# Source: https://github.com/lxztju/pytorch_classification/issues/13
"""Ring 3: the training script replaces the classifier and then freezes every parameter, so the
`filter(lambda p: p.requires_grad, ...)` given to Adam is empty (ValueError)."""

from torch import nn, optim

cfg = {"NUM_CLASSES": 5, "LR": 1e-3}


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.fc = nn.Linear(8, 1000)

    def forward(self, x):
        return self.fc(self.features(x).flatten(1))


def build_model(num_classes):
    model = Backbone()
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


model = build_model(cfg["NUM_CLASSES"])
for param in model.parameters():
    param.requires_grad = False
trainable = filter(lambda p: p.requires_grad, model.parameters())
optimizer = optim.Adam(trainable, lr=cfg["LR"])  # expect: GG101
