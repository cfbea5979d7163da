from helpers import assert_all_fixes_repair, lines_of, only

HEADER = """
import torch
from torch import nn

model = nn.Linear(3, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
scaler = torch.cuda.amp.GradScaler()
"""


def test_flags_bare_step_after_scaled_backward_and_fixes_it():
    code = (
        HEADER
        + """
for x, y in loader:
    optimizer.zero_grad()
    with torch.autocast("cuda"):
        loss = nn.functional.mse_loss(model(x), y)
    scaler.scale(loss).backward()
    optimizer.step()
"""
    )
    (finding,) = only(code, "GG503")
    assert finding.span.start.line + 1 == 14
    assert "bypasses `scaler`" in finding.message
    assert "No inf checks were recorded prior to update." in finding.message
    assert finding.related[0].span.start.line + 1 == 13
    (fix,) = finding.fixes
    assert fix.safety.value == "safe"
    (fixed,) = assert_all_fixes_repair(code, "GG503")
    assert fixed.endswith(
        "    scaler.scale(loss).backward()\n    scaler.step(optimizer)\n    scaler.update()\n"
    )


def test_flags_double_step_in_trainer_class_and_removes_it():
    code = """
    import torch

    class Trainer:
        def __init__(self, model, lr):
            self.model = model
            self.optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
            self.scaler = torch.amp.GradScaler("cuda")

        def train_epoch(self, loader):
            for batch in loader:
                self.optimizer.zero_grad()
                loss = self.model(batch)
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
                self.optimizer.step()
    """
    (finding,) = only(code, "GG503")
    assert finding.span.start.line + 1 == 17
    assert "a second time" in finding.message
    (fixed,) = assert_all_fixes_repair(code, "GG503")
    assert "self.optimizer.step()" not in fixed


def test_flags_step_in_train_one_epoch_helper_loop():
    code = """
    import torch

    def train_one_epoch(model, loader, optimizer, scaler):
        for images, targets in loader:
            optimizer.zero_grad()
            with torch.autocast("cuda"):
                loss = model(images, targets)
            scaler.scale(loss).backward()
            optimizer.step()
            scaler.update()
    """
    assert lines_of(code, "GG503") == [10]
    (fixed,) = assert_all_fixes_repair(code, "GG503")
    assert "scaler.step(optimizer)\n        scaler.update()\n" in fixed
    assert fixed.count("scaler.update()") == 1


def test_silent_on_the_other_branch_of_the_amp_condition():
    code = (
        HEADER
        + """
for x, y in loader:
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    if args.amp:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()
"""
    )
    assert only(code, "GG503") == []


def test_silent_on_two_ifs_with_the_same_test():
    code = """
    def train(model, loader, optimizer, scaler=None):
        for x, y in loader:
            optimizer.zero_grad()
            loss = model(x, y)
            if scaler is not None:
                scaler.scale(loss).backward()
            else:
                loss.backward()
            if scaler is None:
                optimizer.step()
            else:
                scaler.step(optimizer)
                scaler.update()
    """
    assert only(code, "GG503") == []


def test_silent_with_a_disabled_scaler_and_with_scaler_step():
    disabled = """
    import torch
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    for x in loader:
        optimizer.zero_grad()
        scaler.scale(model(x)).backward()
        optimizer.step()
    """
    correct = (
        HEADER
        + """
for x, y in loader:
    optimizer.zero_grad()
    scaler.scale(model(x).sum()).backward()
    scaler.step(optimizer)
    scaler.update()
"""
    )
    assert only(disabled, "GG503") == []
    assert only(correct, "GG503") == []


def test_silent_when_the_step_may_belong_to_an_unscaled_backward():
    code = (
        HEADER
        + """
for x, y in loader:
    optimizer.zero_grad()
    scaler.scale(model(x).sum()).backward()
    aux = model(y).sum()
    aux.backward()
    optimizer.step()
"""
    )
    assert only(code, "GG503") == []


def test_silent_when_the_scaler_name_holds_something_else():
    code = """
    scaler = MinMaxScaler()
    for x in loader:
        optimizer.zero_grad()
        scaler.scale(model(x)).backward()
        optimizer.step()
    """
    assert only(code, "GG503") == []
