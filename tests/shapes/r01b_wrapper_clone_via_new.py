"""Next ring: a wrapper's clone() deep-copies the model but hands over the old optimizer."""

import copy

import torch
from torch import nn


class Learner:
    def __init__(self, model, lr=0.01):
        self._model = model
        self._optimizer = torch.optim.SGD(model.parameters(), lr=lr)

    def clone(self):
        new = Learner.__new__(Learner)
        new._model = copy.deepcopy(self._model)
        new._optimizer = self._optimizer  # expect: GG102
        return new

    def adapt(self, x, y):
        self._optimizer.zero_grad()
        loss = nn.functional.mse_loss(self._model(x), y)
        loss.backward()
        self._optimizer.step()


learner = Learner(nn.Linear(4, 1))
task_learner = learner.clone()
task_learner.adapt(torch.randn(8, 4), torch.randn(8, 1))
