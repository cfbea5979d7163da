# Source: https://github.com/VGraphRNN/VGRNN/issues/4
"""Ring 3, negative: the clip moved between the backward and the step."""

import torch
from torch import nn

clip = 10
model = nn.GRU(8, 16, batch_first=True)
head = nn.Linear(16, 8)
opt = torch.optim.Adam(list(model.parameters()) + list(head.parameters()), lr=1e-2)

for k in range(3):
    opt.zero_grad()
    x = torch.randn(2, 5, 8)
    out, _ = model(x)
    loss = nn.functional.mse_loss(head(out), x)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    print(k, loss.item())
