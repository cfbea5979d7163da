# Source: https://github.com/IAHispano/Applio/pull/860
"""Ring 3: a voice-conversion GAN trains both nets through one GradScaler, then also calls
`optim_g.step()` and `optim_d.step()` directly: each optimizer steps twice per batch."""

import torch
from torch import nn

net_g = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 8))
net_d = nn.Sequential(nn.Linear(8, 16), nn.LeakyReLU(0.1), nn.Linear(16, 1))
optim_g = torch.optim.AdamW(net_g.parameters(), lr=1e-4, betas=(0.8, 0.99))
optim_d = torch.optim.AdamW(net_d.parameters(), lr=1e-4, betas=(0.8, 0.99))
scaler = torch.amp.GradScaler("cpu", enabled=True)


def train_and_evaluate(epoch, loader):
    for batch_idx, (phone, wave) in enumerate(loader):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y_hat = net_g(phone)
            real = (net_d(wave).float() - 1).pow(2).mean()
            fake = net_d(y_hat.detach()).float().pow(2).mean()
            loss_disc = real + fake
        optim_d.zero_grad()
        scaler.scale(loss_disc).backward()
        scaler.unscale_(optim_d)
        scaler.step(optim_d)

        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss_gen_all = (net_d(y_hat).float() - 1).pow(2).mean()
        optim_g.zero_grad()
        scaler.scale(loss_gen_all).backward()
        scaler.unscale_(optim_g)
        scaler.step(optim_g)
        scaler.update()
        optim_g.step()  # expect: GG503
        optim_d.step()  # expect: GG503
        print(epoch, batch_idx, loss_disc.item(), loss_gen_all.item())


train_and_evaluate(1, [(torch.randn(4, 8), torch.randn(4, 8))] * 3)
