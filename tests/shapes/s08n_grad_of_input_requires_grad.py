"""Shape 8, negative: the same saliency map, with the input made to require grad."""

import numpy as np
import torch
from torch import nn


def prepare(img):
    return torch.from_numpy(img).float().requires_grad_()


model = nn.Linear(4, 2)
inputs = prepare(np.random.rand(1, 4))
score = model(inputs).max()
score.backward()
saliency = inputs.grad.abs()
