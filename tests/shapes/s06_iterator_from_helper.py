"""Shape 6: one generator from a helper given to two optimizers; non-leaf tensors given to one."""

import torch
from torch import nn


def params_of(m):
    return m.parameters()


def build_optimizers(model):
    params = params_of(model)
    main_opt = torch.optim.SGD(params, lr=0.1)
    swa_opt = torch.optim.SGD(params, lr=0.05)  # expect: GG101
    return main_opt, swa_opt


w = torch.randn(3, requires_grad=True)
neg_opt = torch.optim.SGD([w.neg()], lr=0.1)  # expect: GG101
row_opt = torch.optim.SGD([w.narrow(0, 0, 1)], lr=0.1)  # expect: GG101
leaf_opt = torch.optim.SGD([w], lr=0.1)

main_opt, swa_opt = build_optimizers(nn.Linear(4, 2))
