"""Next ring: an alias through `model.module if hasattr(...)`, then a model method swaps a layer."""

import torch
from torch import nn


class GPT(nn.Module):
    def __init__(self, vocab, dim):
        super().__init__()
        self.wte = nn.Embedding(vocab, dim)
        self.head = nn.Linear(dim, vocab, bias=False)

    def forward(self, idx):
        return self.head(self.wte(idx))

    def resize_vocab(self, vocab):
        wte = nn.Embedding(vocab, self.wte.embedding_dim)
        self.wte = wte


model = GPT(100, 16)
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
m = model.module if hasattr(model, "module") else model
m.resize_vocab(120)  # expect: GG102
for idx in [torch.randint(0, 100, (2, 8))]:
    optimizer.zero_grad()
    model(idx).sum().backward()
    optimizer.step()
