# Source: https://github.com/marlbenchmark/on-policy/issues/19
"""Ring 3: a PopArt value head keeps its running statistics and output layer as parameters and
`update()` assigns plain tensors over them: `cannot assign ... as parameter 'stddev'`."""

import torch
from torch import nn


class PopArt(nn.Module):
    def __init__(self, input_shape, output_shape=1, beta=0.99999):
        super().__init__()
        self.beta = beta
        self.weight = nn.Parameter(torch.randn(output_shape, input_shape) * 0.1)
        self.bias = nn.Parameter(torch.zeros(output_shape))
        self.stddev = nn.Parameter(torch.ones(output_shape), requires_grad=False)
        self.mean = nn.Parameter(torch.zeros(output_shape), requires_grad=False)
        self.mean_sq = nn.Parameter(torch.zeros(output_shape), requires_grad=False)

    def forward(self, x):
        return nn.functional.linear(x, self.weight, self.bias)

    @torch.no_grad()
    def update(self, targets):
        old_stddev = self.stddev.data.clone()
        self.mean.mul_(self.beta).add_(targets.mean(0) * (1.0 - self.beta))
        self.mean_sq.mul_(self.beta).add_((targets**2).mean(0) * (1.0 - self.beta))
        self.stddev = (self.mean_sq - self.mean**2).sqrt().clamp(min=1e-4)  # expect: GG202
        self.weight = self.weight * old_stddev / self.stddev  # expect: GG202


head = PopArt(8)
head.update(torch.randn(16, 1))
