# Source: https://github.com/PixArt-alpha/PixArt-alpha/pull/160
"""Ring 3: LoRA training keeps the trainable parameters as a `filter(...)`, gives it to AdamW,
and later clips "the same" parameters: the filter is exhausted, so nothing is clipped."""

import argparse

import torch
from torch import nn

parser = argparse.ArgumentParser()
parser.add_argument("--learning_rate", type=float, default=1e-4)
parser.add_argument("--max_grad_norm", type=float, default=1.0)
args = parser.parse_args([])

unet = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 8))
unet.requires_grad_(False)
lora = nn.Linear(8, 8)
unet.append(lora)
lora_layers = filter(lambda p: p.requires_grad, unet.parameters())
optimizer = torch.optim.AdamW(lora_layers, lr=args.learning_rate)

for batch in [torch.randn(4, 8)] * 2:
    loss = unet(batch).pow(2).mean()
    loss.backward()
    params_to_clip = lora_layers
    nn.utils.clip_grad_norm_(params_to_clip, args.max_grad_norm)  # expect: GG101
    optimizer.step()
    optimizer.zero_grad()
