# Source: https://github.com/ronghuaiyang/arcface-pytorch/issues/56
"""Ring 3: the features are computed under `no_grad` (copied from the test code), backward then
raises, and the "fix" `loss.requires_grad = True` runs but trains nothing."""

import torch
from torch import nn


class ArcMarginProduct(nn.Module):
    def __init__(self, in_features, out_features, s=30.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.s = s

    def forward(self, x, label):
        cosine = nn.functional.linear(
            nn.functional.normalize(x), nn.functional.normalize(self.weight)
        )
        return cosine * self.s


model = nn.Sequential(nn.Linear(32, 16), nn.BatchNorm1d(16))
metric_fc = ArcMarginProduct(16, 10)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(
    [{"params": model.parameters()}, {"params": metric_fc.parameters()}], lr=0.1
)
for data_input, label in [(torch.randn(8, 32), torch.randint(0, 10, (8,)))] * 2:
    with torch.no_grad():
        feature = model(data_input)
        output = metric_fc(feature, label)
    loss = criterion(output, label)
    loss.requires_grad = True  # expect: GG305
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
