"""The same kind of script, written correctly: GradGuard reports nothing here."""

import torch
from torch import nn, optim


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(8, 8) for _ in range(3)])
        self.head = nn.Linear(8, 2, bias=False)

    def forward(self, x):
        for layer in self.layers:
            x = torch.relu(layer(x))
        return self.head(x)


def init_weights(m):
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


model = Net()
model.apply(init_weights)
model.head = nn.Linear(8, 3)
model.to("cpu")
optimizer = optim.Adam(model.parameters(), lr=1e-3)
criterion = nn.CrossEntropyLoss()

for step in range(10):
    inputs, targets = torch.randn(4, 8), torch.randint(0, 3, (4,))
    optimizer.zero_grad()
    loss = criterion(model(inputs), targets)
    loss.backward()
    for p in model.parameters():
        if p.grad is not None:
            p.grad.clamp_(-1, 1)
    optimizer.step()
