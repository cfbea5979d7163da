# Source: https://github.com/pytorch/pytorch/issues/140469
"""Ring 3, negative: the scale is applied first and `requires_grad_()` last, so the images are
a leaf."""

import argparse

import torch

parser = argparse.ArgumentParser()
parser.add_argument("--dlipc", type=int, default=2)
parser.add_argument("--dllr_img", type=float, default=0.1)
parser.add_argument("--dldevice", default="cpu")
args = parser.parse_args([])

num_classes, channel, im_size = 3, 1, (8, 8)
image_syn = (
    torch.randn(
        size=(num_classes * args.dlipc, channel, im_size[0], im_size[1]),
        dtype=torch.float,
        device=args.dldevice,
    )
    * 0.01
).requires_grad_()
optimizer_img = torch.optim.SGD([image_syn], lr=args.dllr_img, momentum=0.5)
