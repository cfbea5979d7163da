"""Shape 8: `.grad` of a tensor made without grad by a same-file function."""

import numpy as np
import torch
from torch import nn


def prepare(img):
    return torch.from_numpy(img).float()


model = nn.Linear(4, 2)
img = np.random.rand(1, 4)
inputs = prepare(img)
score = model(inputs).max()
score.backward()
saliency = inputs.grad.abs()  # expect: GG301
