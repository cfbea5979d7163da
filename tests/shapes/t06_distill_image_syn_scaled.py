# Source: https://github.com/pytorch/pytorch/issues/140469
"""Ring 3: dataset distillation builds its synthetic images with `requires_grad=True` and scales
them in the same expression; SGD raises `can't optimize a non-leaf Tensor`."""

import argparse

import torch

parser = argparse.ArgumentParser()
parser.add_argument("--dlipc", type=int, default=2)
parser.add_argument("--dllr_img", type=float, default=0.1)
parser.add_argument("--dldevice", default="cpu")
args = parser.parse_args([])

num_classes, channel, im_size = 3, 1, (8, 8)
image_syn = (
    torch.randn(  # expect: GG303
        size=(num_classes * args.dlipc, channel, im_size[0], im_size[1]),
        dtype=torch.float,
        requires_grad=True,
        device=args.dldevice,
    )
    * 0.01
)
optimizer_img = torch.optim.SGD([image_syn], lr=args.dllr_img, momentum=0.5)
