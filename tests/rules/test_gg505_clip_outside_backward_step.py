from helpers import assert_all_fixes_repair, lines_of, only


def test_flags_clip_before_backward_in_train_one_epoch():
    code = """
    import torch
    from torch import nn
    from torch.nn.utils import clip_grad_norm_

    def train_one_epoch(model, loader, optimizer, criterion, max_norm=1.0):
        model.train()
        for inputs, targets in loader:
            optimizer.zero_grad()
            loss = criterion(model(inputs), targets)
            clip_grad_norm_(model.parameters(), max_norm)
            loss.backward()
            optimizer.step()
    """
    (finding,) = only(code, "GG505")
    assert finding.span.start.line + 1 == 11
    assert finding.severity.value == "warning"
    assert "runs before `loss.backward()`" in finding.message
    assert "it returns `tensor(0.)`" in finding.message
    assert finding.related[0].span.start.line + 1 == 12
    (fix,) = finding.fixes
    assert fix.safety.value == "unsafe"
    (fixed,) = assert_all_fixes_repair(code, "GG505")
    assert (
        "        loss.backward()\n"
        "        clip_grad_norm_(model.parameters(), max_norm)\n"
        "        optimizer.step()\n"
    ) in fixed


def test_flags_clip_after_step_in_a_trainer_method():
    code = """
    import torch

    class Trainer:
        def __init__(self, model, optimizer, max_grad_norm):
            self.model, self.optimizer = model, optimizer
            self.max_grad_norm = max_grad_norm

        def training_step(self, batch):
            self.optimizer.zero_grad()
            loss = self.model(**batch).loss
            loss.backward()
            self.optimizer.step()
            grad_norm = torch.nn.utils.clip_grad_norm_(
                self.model.parameters(), self.max_grad_norm
            )
            return loss.item(), grad_norm

        def fit(self, loader):
            for batch in loader:
                self.training_step(batch)
    """
    (finding,) = only(code, "GG505")
    assert finding.span.start.line + 1 == 14
    assert "runs after `self.optimizer.step()`" in finding.message
    assert "no effect on any update" in finding.message
    (fixed,) = assert_all_fixes_repair(code, "GG505")
    assert "        grad_norm = torch.nn.utils.clip_grad_norm_(\n" in fixed
    assert fixed.index("clip_grad_norm_") < fixed.index("self.optimizer.step()")


def test_flags_clip_at_the_top_of_the_loop_without_zero_grad_before_it():
    code = """
    import torch
    from torch import nn

    model = nn.Linear(4, 1)
    optimizer = torch.optim.Adam(model.parameters())
    for x, y in loader:
        nn.utils.clip_grad_value_(model.parameters(), 0.5)
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    """
    (finding,) = only(code, "GG505")
    assert finding.span.start.line + 1 == 8
    assert "every `.grad` was just cleared" in finding.message
    assert_all_fixes_repair(code, "GG505")


def test_silent_on_correct_clipping():
    code = """
    import torch
    from torch import nn
    from torch.nn.utils import clip_grad_norm_

    def train_amp(model, loader, optimizer, scaler, accum_steps):
        for i, (x, y) in enumerate(loader):
            with torch.autocast("cuda"):
                loss = nn.functional.mse_loss(model(x), y) / accum_steps
            scaler.scale(loss).backward()
            if (i + 1) % accum_steps == 0:
                scaler.unscale_(optimizer)
                clip_grad_norm_(model.parameters(), 1.0)
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad()

    def train_closure(model, x, y, optimizer):
        def closure():
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            clip_grad_norm_(model.parameters(), 1.0)
            return loss
        for _ in range(10):
            optimizer.step(closure)

    def train_plain(model, loader, optimizer):
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()

    def never_cleared(model, loader, optimizer):
        for i, (x, y) in enumerate(loader):  # never cleared: the clip reaches the next step
            nn.functional.mse_loss(model(x), y).backward()
            if (i + 1) % 4 == 0:
                optimizer.step()
            clip_grad_norm_(model.parameters(), 1.0)
    """
    assert only(code, "GG505") == []


def test_no_fix_when_the_step_goes_through_a_scaler_without_unscale():
    code = """
    import torch
    from torch.nn.utils import clip_grad_norm_

    scaler = torch.amp.GradScaler("cuda")

    def train(model, loader, optimizer, criterion):
        for x, y in loader:
            optimizer.zero_grad()
            clip_grad_norm_(model.parameters(), 1.0)
            scaler.scale(criterion(model(x), y)).backward()
            scaler.step(optimizer)
            scaler.update()
    """
    (finding,) = only(code, "GG505")
    assert finding.fixes == ()
    assert lines_of(code, "GG505") == [10]
