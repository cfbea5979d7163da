# Source: https://github.com/huggingface/transformers/issues/43
"""Ring 3: fp16-style loss scaling undone by dividing every `.grad`; the span head's forward
skips the pooler when start/end positions are given, so the pooler's `.grad` stays None."""

import argparse

import torch
from torch import nn


class QAModel(nn.Module):
    def __init__(self, hidden=16):
        super().__init__()
        self.encoder = nn.Linear(hidden, hidden)
        self.pooler = nn.Linear(hidden, hidden)
        self.qa_outputs = nn.Linear(hidden, 2)

    def forward(self, x, start_positions=None):
        seq = torch.tanh(self.encoder(x))
        if start_positions is None:
            return self.qa_outputs(torch.tanh(self.pooler(seq)))
        logits = self.qa_outputs(seq)
        return nn.functional.cross_entropy(logits[:, :, 0], start_positions)


parser = argparse.ArgumentParser()
parser.add_argument("--loss_scale", type=float, default=128.0)
args = parser.parse_args([])

model = QAModel()
optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
for _step in range(3):
    x = torch.randn(4, 6, 16)
    loss = model(x, start_positions=torch.randint(0, 6, (4,)))
    loss = loss * args.loss_scale
    loss.backward()
    for _n, param in model.named_parameters():
        param.grad.data = param.grad.data / args.loss_scale  # expect: GG301
    optimizer.step()
    model.zero_grad()
