# Source: https://github.com/Haian-Jin/LVSM/pull/19
"""Ring 3, negative: the hotfix, `scaler.update()` runs in every iteration, stepped or not."""

import torch
from torch import nn

config = {"grad_clip_norm": 2.0, "allowed_gradnorm_factor": 5.0, "use_amp": True}
model = nn.Linear(16, 16)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
scaler = torch.amp.GradScaler("cpu", enabled=config["use_amp"])
loader = [torch.randn(4, 16)] * 4

for step, batch in enumerate(loader):
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config["use_amp"]):
        loss = model(batch).float().pow(2).mean() * 1e3
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    total_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config["grad_clip_norm"])
    limit = config["grad_clip_norm"] * config["allowed_gradnorm_factor"]
    if total_norm.item() > limit:
        print(f"step {step} grad norm too large, skipping optimizer step")
    else:
        scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)
