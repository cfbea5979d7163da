from helpers import assert_all_fixes_repair, lines_of, only

HEADER = """
import torch
from torch import nn
from torch.optim.lr_scheduler import OneCycleLR, ReduceLROnPlateau, StepLR

model = nn.Linear(3, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
"""


def test_flags_scheduler_before_step_in_batch_loop_and_moves_it():
    code = (
        HEADER
        + """
scheduler = OneCycleLR(optimizer, max_lr=1.0, total_steps=100)
for x, y in loader:
    optimizer.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    scheduler.step()
    optimizer.step()
"""
    )
    (finding,) = only(code, "GG501")
    assert finding.span.start.line + 1 == 13
    assert "shifted one step early" in finding.message
    assert finding.related[0].span.start.line + 1 == 14
    (fix,) = finding.fixes
    assert fix.safety.value == "unsafe"
    (fixed,) = assert_all_fixes_repair(code, "GG501")
    assert fixed.endswith("    optimizer.step()\n    scheduler.step()\n")


def test_flags_top_of_epoch_loop_before_train_one_epoch():
    code = """
    import torch

    def train_one_epoch(model, loader, optimizer, scaler):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            scaler.scale(model(x, y)).backward()
            scaler.step(optimizer)
            scaler.update()

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30)
    scaler = torch.amp.GradScaler("cuda")
    for epoch in range(90):
        scheduler.step()
        train_one_epoch(model, loader, optimizer, scaler)
        validate(model, val_loader)
    """
    (finding,) = only(code, "GG501")
    assert finding.span.start.line + 1 == 16
    assert "in the batch loop below" in finding.message
    (fixed,) = assert_all_fixes_repair(code, "GG501")
    assert "train_one_epoch(model, loader, optimizer, scaler)\n    scheduler.step()\n" in fixed


def test_flags_trainer_class_scheduler_attribute():
    code = """
    import torch
    from transformers import get_linear_schedule_with_warmup

    class Trainer:
        def __init__(self, model, steps):
            self.model = model
            self.optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
            self.scheduler = get_linear_schedule_with_warmup(self.optimizer, 100, steps)

        def train(self, loader):
            for batch in loader:
                loss = self.model(**batch).loss
                loss.backward()
                self.scheduler.step()
                self.optimizer.step()
                self.optimizer.zero_grad()
    """
    assert lines_of(code, "GG501") == [15]


def test_silent_on_correct_orders():
    per_batch = (
        HEADER
        + """
scheduler = OneCycleLR(optimizer, max_lr=1.0, total_steps=100)
for x, y in loader:
    optimizer.zero_grad()
    model(x).sum().backward()
    optimizer.step()
    scheduler.step()
"""
    )
    per_epoch = (
        HEADER
        + """
scheduler = StepLR(optimizer, step_size=10)
for epoch in range(10):
    for x, y in loader:
        optimizer.zero_grad()
        model(x).sum().backward()
        optimizer.step()
    scheduler.step()
"""
    )
    amp = (
        HEADER
        + """
scheduler = StepLR(optimizer, step_size=10)
scaler = torch.amp.GradScaler("cuda")
for x, y in loader:
    optimizer.zero_grad()
    scaler.scale(model(x).sum()).backward()
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()
"""
    )
    for code in (per_batch, per_epoch, amp):
        assert only(code, "GG501") == []


def test_silent_on_plateau_explicit_epoch_and_foreign_schedulers():
    plateau = (
        HEADER
        + """
scheduler = ReduceLROnPlateau(optimizer)
for epoch in range(10):
    scheduler.step(val_loss)
    for x, y in loader:
        optimizer.zero_grad()
        model(x).sum().backward()
        optimizer.step()
"""
    )
    explicit = (
        HEADER
        + """
scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=10)
for epoch in range(10):
    for i, (x, y) in enumerate(loader):
        scheduler.step(epoch + i / len(loader))
        optimizer.zero_grad()
        model(x).sum().backward()
        optimizer.step()
"""
    )
    own_class = """
    class WarmupScheduler:
        def __init__(self, optimizer):
            self.optimizer = optimizer

        def step(self):
            pass

    scheduler = WarmupScheduler(optimizer)
    for x in loader:
        scheduler.step()
        optimizer.zero_grad()
        model(x).backward()
        optimizer.step()
    """
    for code in (plateau, explicit, own_class):
        assert only(code, "GG501") == []


def test_silent_when_the_scheduler_belongs_to_another_optimizer():
    code = (
        HEADER
        + """
other = torch.optim.SGD(head.parameters(), lr=0.1)
scheduler = StepLR(other, step_size=10)
for x in loader:
    other.zero_grad()
    head(x).sum().backward()
    other.step()
    scheduler.step()
    optimizer.zero_grad()
    model(x).sum().backward()
    optimizer.step()
"""
    )
    assert only(code, "GG501") == []


def test_silent_when_the_top_of_epoch_step_skips_the_first_epoch():
    code = (
        HEADER
        + """
scheduler = StepLR(optimizer, step_size=10)
for epoch in range(start_epoch, 100):
    if epoch > start_epoch:
        scheduler.step()
    for x, y in loader:
        optimizer.zero_grad()
        model(x).sum().backward()
        optimizer.step()
"""
    )
    assert only(code, "GG501") == []
