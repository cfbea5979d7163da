# Source: https://github.com/jcjohnson/pytorch-examples/issues/7
"""Ring 3: a two-layer net trained by hand clears `w1.grad` at the top of the loop, before the
first backward has created it (AttributeError on the first iteration)."""

import torch

N, D_in, H, D_out = 16, 10, 8, 2
x = torch.randn(N, D_in)
y = torch.randn(N, D_out)
w1 = torch.randn(D_in, H, requires_grad=True)
w2 = torch.randn(H, D_out, requires_grad=True)
learning_rate = 1e-6

for _t in range(50):
    w1.grad.data.zero_()  # expect: GG301
    w2.grad.data.zero_()  # expect: GG301
    y_pred = x.mm(w1).clamp(min=0).mm(w2)
    loss = (y_pred - y).pow(2).sum()
    loss.backward()
    w1.data -= learning_rate * w1.grad.data
    w2.data -= learning_rate * w2.grad.data
