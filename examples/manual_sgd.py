"""Linear regression with a hand-written gradient-descent update."""

import torch

device = "cuda" if torch.cuda.is_available() else "cpu"
x = torch.randn(100, 3, device=device)
y = x @ torch.tensor([1.0, -2.0, 0.5], device=device) + 0.1

w = torch.randn(3, requires_grad=True).to(device)
b = torch.zeros(1, requires_grad=True, device=device)
lr = 0.1

b.grad.zero_()
for epoch in range(50):
    loss = ((x @ w + b - y) ** 2).mean()
    loss.backward()
    w = w - lr * w.grad
    with torch.no_grad():
        b -= lr * b.grad
    w.grad.zero_()
    b.grad.zero_()
