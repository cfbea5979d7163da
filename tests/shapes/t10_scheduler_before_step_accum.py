# Source: https://github.com/ThilinaRajapakse/pytorch-transformers-classification/issues/21
"""Ring 3: `train(train_dataset, model, args)` with gradient accumulation steps the warm-up
scheduler before the optimizer inside the accumulation branch."""

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

args = {"learning_rate": 4e-5, "gradient_accumulation_steps": 2, "num_train_epochs": 2}


def train(train_dataset, model, args):
    t_total = len(train_dataset) // args["gradient_accumulation_steps"] * args["num_train_epochs"]
    optimizer = torch.optim.AdamW(model.parameters(), lr=args["learning_rate"])
    scheduler = LambdaLR(optimizer, lambda step: max(0.0, 1 - step / max(1, t_total)))
    model.zero_grad()
    for _ in range(args["num_train_epochs"]):
        for step, (x, y) in enumerate(train_dataset):
            loss = nn.functional.cross_entropy(model(x), y)
            loss = loss / args["gradient_accumulation_steps"]
            loss.backward()
            if (step + 1) % args["gradient_accumulation_steps"] == 0:
                scheduler.step()  # expect: GG501
                optimizer.step()
                model.zero_grad()


model = nn.Linear(12, 3)
train_dataset = [(torch.randn(4, 12), torch.randint(0, 3, (4,))) for _ in range(4)]
train(train_dataset, model, args)
