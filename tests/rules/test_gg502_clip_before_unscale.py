from helpers import assert_all_fixes_repair, lines_of, only


def test_flags_clip_after_scaled_backward_and_inserts_unscale():
    code = """
    import torch
    from torch import nn
    from torch.nn.utils import clip_grad_norm_

    model = nn.Linear(3, 1)
    optimizer = torch.optim.AdamW(model.parameters())
    scaler = torch.amp.GradScaler("cuda")
    for x, y in loader:
        optimizer.zero_grad()
        with torch.autocast("cuda"):
            loss = nn.functional.mse_loss(model(x), y)
        scaler.scale(loss).backward()
        clip_grad_norm_(model.parameters(), max_norm=1.0)
        scaler.step(optimizer)
        scaler.update()
    """
    (finding,) = only(code, "GG502")
    assert finding.span.start.line + 1 == 14
    assert "`scaler.unscale_(optimizer)` before clipping" in finding.message
    (fix,) = finding.fixes
    assert fix.safety.value == "safe"
    (fixed,) = assert_all_fixes_repair(code, "GG502")
    assert "    scaler.unscale_(optimizer)\n    clip_grad_norm_(" in fixed


def test_flags_trainer_under_use_amp_the_pytorch_examples_bug():
    code = """
    import torch

    class Trainer:
        def __init__(self, model, config):
            self.model = model
            self.config = config
            self.optimizer = torch.optim.AdamW(model.parameters())
            self.scaler = torch.cuda.amp.GradScaler(enabled=config.use_amp)

        def _run_batch(self, source, targets):
            with torch.amp.autocast("cuda", enabled=self.config.use_amp):
                _, loss = self.model(source, targets)
            self.optimizer.zero_grad(set_to_none=True)
            if self.config.use_amp:
                self.scaler.scale(loss).backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip)
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip)
                self.optimizer.step()
    """
    assert lines_of(code, "GG502") == [17]
    (fixed,) = assert_all_fixes_repair(code, "GG502")
    assert "self.scaler.unscale_(self.optimizer)\n" in fixed


def test_flags_clip_in_a_helper_the_loop_calls():
    code = """
    import torch

    def clip_gradients(model):
        torch.nn.utils.clip_grad_value_(model.parameters(), 0.5)

    def train_one_epoch(model, loader, optimizer, scaler):
        for batch in loader:
            optimizer.zero_grad()
            scaler.scale(model(batch)).backward()
            clip_gradients(model)
            scaler.step(optimizer)
            scaler.update()
    """
    assert lines_of(code, "GG502") == [11]


def test_silent_after_unscale_and_in_accumulation():
    code = """
    import torch
    scaler = torch.amp.GradScaler("cuda")
    for i, batch in enumerate(loader):
        scaler.scale(model(batch) / accum).backward()
        if (i + 1) % accum == 0:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad()
    """
    assert only(code, "GG502") == []


def test_silent_with_disabled_scaler_accelerate_clip_and_no_scaler():
    disabled = """
    import torch
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    for batch in loader:
        scaler.scale(model(batch)).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(optimizer)
        scaler.update()
    """
    accelerate = """
    for batch in loader:
        with accelerator.accumulate(model):
            accelerator.backward(model(batch))
            accelerator.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad()
    """
    plain = """
    import torch
    for batch in loader:
        model(batch).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
    """
    for code in (disabled, accelerate, plain):
        assert only(code, "GG502") == []


def test_no_fix_when_unscale_comes_later():
    code = """
    import torch
    scaler = torch.amp.GradScaler("cuda")
    for batch in loader:
        optimizer.zero_grad()
        scaler.scale(model(batch)).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.unscale_(optimizer)
        scaler.step(optimizer)
        scaler.update()
    """
    (finding,) = only(code, "GG502")
    assert finding.fixes == ()


_HELPER_SCALER = """
import torch
from torch import nn
from torch.nn.utils import clip_grad_norm_


def make_scaler(args):
    return torch.amp.GradScaler("cuda", enabled={enabled})


def train(model, loader, args):
    optimizer = torch.optim.AdamW(model.parameters())
    scaler = make_scaler(args)
    amp_scaler = scaler
    for x, y in loader:
        optimizer.zero_grad()
        with torch.autocast("cuda"):
            loss = nn.functional.mse_loss(model(x), y)
        amp_scaler.scale(loss).backward()
        clip_grad_norm_(model.parameters(), max_norm=1.0)
        amp_scaler.step(optimizer)
        amp_scaler.update()
"""


def test_a_scaler_made_by_a_helper_and_reached_through_an_alias_is_a_scaler():
    # The semantic model gives `scaler` the helper's GradScaler, and `amp_scaler` the same.
    code = _HELPER_SCALER.format(enabled="True")
    assert lines_of(code, "GG502") == [20]
    (fixed,) = assert_all_fixes_repair(code, "GG502")
    assert "amp_scaler.unscale_(optimizer)\n        clip_grad_norm_(" in fixed


def test_a_helper_s_disabled_scaler_stays_silent():
    assert only(_HELPER_SCALER.format(enabled="False"), "GG502") == []
