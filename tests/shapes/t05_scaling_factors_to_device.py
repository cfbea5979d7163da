# Source: https://github.com/vinsis/ternary-quantization/issues/4
"""Ring 3: per-layer scaling factors built in a comprehension with `requires_grad=True` and then
moved with `.to(device)`: on a GPU each is a non-leaf copy, so the optimizer refuses them."""

import torch
from torch import nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)).to(device)
weights_to_be_quantized = [m.weight for m in model if isinstance(m, nn.Linear)]

scaling_factors = [
    torch.ones(2, requires_grad=True).to(device)  # expect: GG303
    for _ in range(len(weights_to_be_quantized))
]
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
optimizer_sf = torch.optim.Adam(scaling_factors, lr=1e-4)
