# Source: https://github.com/wiseodd/generative-models/issues/26
"""Ring 3: weights made by a helper, grouped in per-network lists joined with `+`; `reset_grad()`
zeroes every `.grad` after the discriminator's step, when Q's weights have never had a backward."""

import torch

Z_dim, h_dim, X_dim = 4, 8, 6


def xavier_init(size):
    std = 1.0 / (size[0] / 2.0) ** 0.5
    return torch.randn(*size) * std


Wzh = xavier_init([Z_dim, h_dim]).requires_grad_()
Whx = xavier_init([h_dim, X_dim]).requires_grad_()
Wxd = xavier_init([X_dim, 1]).requires_grad_()
Wqxh = xavier_init([X_dim, h_dim]).requires_grad_()
Whc = xavier_init([h_dim, 2]).requires_grad_()

G_params = [Wzh, Whx]
D_params = [Wxd]
Q_params = [Wqxh, Whc]
params = G_params + D_params + Q_params

D_solver = torch.optim.Adam(G_params + D_params, lr=1e-3)
Q_solver = torch.optim.Adam(G_params + Q_params, lr=1e-3)


def G(z):
    return torch.sigmoid(torch.relu(z @ Wzh) @ Whx)


def D(x):
    return torch.sigmoid(x @ Wxd)


def Q(x):
    return torch.softmax(torch.relu(x @ Wqxh) @ Whc, dim=1)


def reset_grad():
    for p in params:
        p.grad.data.zero_()  # expect: GG301


for _it in range(3):
    z = torch.randn(8, Z_dim)
    X = torch.rand(8, X_dim)
    D_loss = -torch.mean(torch.log(D(X) + 1e-8) + torch.log(1 - D(G(z)) + 1e-8))
    D_loss.backward()
    D_solver.step()
    reset_grad()

    Q_loss = -torch.mean(torch.log(Q(G(z)) + 1e-8))
    Q_loss.backward()
    Q_solver.step()
    reset_grad()
