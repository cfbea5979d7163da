# Source: https://github.com/zhangyu2234/Deep-learning-by-hand
"""Ring 3, negative: the fix the notebook found, the "true" weights that only generate the data
do not require grad."""

import torch

num_samples, num_features = 400, 2
X = torch.randn((num_samples, num_features), dtype=torch.float32)
true_W = torch.randn((num_features, 1), dtype=torch.float32)
true_b = torch.randn(1, dtype=torch.float32)
Y = torch.mm(X, true_W) + true_b

W = torch.normal(0, 0.01, size=(num_features, 1), requires_grad=True)
b = torch.zeros(1, requires_grad=True)
batch_size, lr = 20, 0.01


def data_iter(X, Y, batch_size):
    for i in range(0, len(X), batch_size):
        yield X[i : i + batch_size], Y[i : i + batch_size]


for _epoch in range(2):
    for x, y in data_iter(X, Y, batch_size):
        loss = ((torch.mm(x, W) + b - y) ** 2 / 2).mean()
        loss.backward()
        with torch.no_grad():
            for param in (W, b):
                param -= lr * param.grad
                param.grad.zero_()
