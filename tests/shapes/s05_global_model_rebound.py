"""Shape 5: `global model` rebinding in a function after the optimizer was built."""

import torch
from torch import nn

model = nn.Linear(10, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)


def load_pretrained():
    global model
    model = nn.Linear(10, 2)
    model.load_state_dict(torch.load("pretrained.pt"))


def train(batches):
    for x, y in batches:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()


load_pretrained()  # expect: GG102
train([(torch.randn(4, 10), torch.tensor([0, 1, 0, 1]))])
