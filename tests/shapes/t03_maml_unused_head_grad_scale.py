# Source: https://github.com/learnables/learn2learn/issues/428
"""Ring 3: meta-gradients are averaged over the tasks by scaling every `.grad`, but the model
keeps a head that `forward` never calls, so its `.grad` is None."""

import torch
from torch import nn


class Learner(nn.Module):
    def __init__(self, ways=5):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(16, 32), nn.ReLU())
        self.classifier = nn.Linear(32, ways)
        self.aux_head = nn.Linear(32, 1)

    def forward(self, x):
        return self.classifier(self.features(x))


def meta_train(model, opt, tasks, meta_batch_size):
    for _iteration in range(2):
        opt.zero_grad()
        for x, y in tasks[:meta_batch_size]:
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
        for p in model.parameters():
            p.grad.data.mul_(1.0 / meta_batch_size)  # expect: GG301
        opt.step()


model = Learner()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
tasks = [(torch.randn(10, 16), torch.randint(0, 5, (10,))) for _ in range(4)]
meta_train(model, opt, tasks, meta_batch_size=4)
