"""Next ring: a wrapper's clone() deep-copies the model but hands over the old optimizer."""

import copy

import torch
from torch import nn


class Learner:
    def __init__(self, model, optimizer=None, lr=0.01):
        self._model = model
        self._optimizer = optimizer or torch.optim.SGD(model.parameters(), lr=lr)

    def clone(self):
        return Learner(copy.deepcopy(self._model), self._optimizer)  # expect: GG102

    def adapt(self, x, y):
        self._optimizer.zero_grad()
        loss = nn.functional.mse_loss(self._model(x), y)
        loss.backward()
        self._optimizer.step()


learner = Learner(nn.Linear(4, 1))
task_learner = learner.clone()
task_learner.adapt(torch.randn(8, 4), torch.randn(8, 1))
