from helpers import assert_all_fixes_repair, lines_of, only

HEADER = """
import torch
from torch import nn

model = nn.Linear(3, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
scaler = torch.amp.GradScaler("cuda")
"""


def test_flags_loop_without_update_and_inserts_it():
    code = (
        HEADER
        + """
for x, y in loader:
    optimizer.zero_grad()
    with torch.autocast("cuda"):
        loss = nn.functional.mse_loss(model(x), y)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
"""
    )
    (finding,) = only(code, "GG504")
    assert finding.span.start.line + 1 == 14
    assert "step() has already been called since the last update()." in finding.message
    (fix,) = finding.fixes
    assert fix.safety.value == "safe"
    (fixed,) = assert_all_fixes_repair(code, "GG504")
    assert fixed.endswith("    scaler.step(optimizer)\n    scaler.update()\n")


def test_flags_update_only_after_a_finite_step():
    code = """
    import torch

    def train_one_epoch(model, loader, optimizer, scaler, max_norm):
        for batch in loader:
            optimizer.zero_grad()
            loss = model(batch)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            if torch.isfinite(norm):
                scaler.step(optimizer)
                scaler.update()
    """
    (finding,) = only(code, "GG504")
    assert finding.span.start.line + 1 == 13
    assert "only when `torch.isfinite(norm)` is true" in finding.message
    assert "unscale_() has already been called on this optimizer" in finding.message
    assert finding.fixes == ()


def test_flags_unscale_twice_in_trainer_helper():
    code = """
    import torch

    class Trainer:
        def __init__(self, model):
            self.model = model
            self.optimizer = torch.optim.AdamW(model.parameters())
            self.scaler = torch.cuda.amp.GradScaler()

        def clip(self):
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)

        def fit(self, loader):
            for batch in loader:
                self.optimizer.zero_grad()
                self.scaler.scale(self.model(batch)).backward()
                self.clip()
                self.scaler.unscale_(self.optimizer)
                self.scaler.step(self.optimizer)
                self.scaler.update()
    """
    (finding,) = only(code, "GG504")
    assert finding.span.start.line + 1 == 19
    assert "a second time" in finding.message
    (fixed,) = assert_all_fixes_repair(code, "GG504")
    assert fixed.count("unscale_") == 1


def test_silent_on_accumulation_with_the_update_under_the_same_condition():
    code = (
        HEADER
        + """
for i, (x, y) in enumerate(loader):
    loss = nn.functional.mse_loss(model(x), y) / accum_steps
    scaler.scale(loss).backward()
    if (i + 1) % accum_steps == 0:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad()
"""
    )
    assert only(code, "GG504") == []


def test_silent_on_one_scaler_with_two_optimizers():
    code = """
    import torch
    scaler = torch.amp.GradScaler("cuda")
    for x in loader:
        opt_a.zero_grad()
        opt_b.zero_grad()
        scaler.scale(loss_fn(x)).backward()
        scaler.unscale_(opt_a)
        scaler.unscale_(opt_b)
        scaler.step(opt_a)
        scaler.step(opt_b)
        scaler.update()
    """
    assert only(code, "GG504") == []


def test_silent_with_disabled_scaler_and_when_update_is_in_the_caller():
    disabled = """
    import torch
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    for x in loader:
        scaler.scale(model(x)).backward()
        scaler.step(optimizer)
    """
    per_call = """
    def training_step(self, batch):
        loss = self.model(batch)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)

    def fit(self, loader):
        for batch in loader:
            self.training_step(batch)
            self.scaler.update()
    """
    assert only(disabled, "GG504") == []
    assert only(per_call, "GG504") == []


def test_silent_on_the_two_branches_of_amp_and_correlated_ifs():
    code = """
    def train(model, loader, optimizer, scaler, args):
        for x in loader:
            optimizer.zero_grad()
            if args.amp:
                scaler.scale(model(x)).backward()
                scaler.step(optimizer)
            else:
                model(x).backward()
                optimizer.step()
            if args.amp:
                scaler.update()
    """
    assert lines_of(code, "GG504") == []


def test_flags_update_once_after_the_loop_but_not_an_update_in_a_hook():
    after_loop = """
    import torch

    def train(model, loader, optimizer):
        scaler = torch.amp.GradScaler("cuda")
        for batch in loader:
            optimizer.zero_grad()
            scaler.scale(model(batch)).backward()
            scaler.step(optimizer)
        scaler.update()
    """
    hook = """
    import torch

    class Trainer:
        def __init__(self):
            self.scaler = torch.amp.GradScaler("cuda")

        def on_after_step(self):
            self.scaler.update()

        def fit(self, loader):
            for batch in loader:
                self.optimizer.zero_grad()
                self.scaler.scale(self.model(batch)).backward()
                self.scaler.step(self.optimizer)
                self.callbacks.run("after_step")
    """
    assert lines_of(after_loop, "GG504") == [9]
    assert only(hook, "GG504") == []
