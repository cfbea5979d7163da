import pytest

from helpers import lines_of, only


def test_flags_backward_on_loss_computed_in_no_grad_block():
    code = """
    import torch
    from torch import nn

    model = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    def train_one_epoch(model, loader, optimizer, criterion):
        model.train()
        for inputs, targets in loader:
            optimizer.zero_grad()
            with torch.no_grad():
                outputs = model(inputs)
                loss = criterion(outputs, targets)
            loss.backward()
            optimizer.step()
    """
    (finding,) = only(code, "GG305")
    assert finding.span.start.line + 1 == 15
    assert finding.severity.value == "error"
    assert "`loss` is computed under `torch.no_grad()` (line 12)" in finding.message
    assert "element 0 of tensors does not require grad" in finding.message
    assert finding.related[0].span.start.line + 1 == 12
    assert finding.fixes == ()


@pytest.mark.parametrize(
    "context",
    [
        "torch.no_grad()",
        "torch.inference_mode()",
        "torch.set_grad_enabled(False)",
        "torch.autograd.no_grad()",
    ],
)
def test_flags_every_disabling_context_and_backward_inside_it(context):
    code = f"""
import torch

class Trainer:
    def __init__(self, model, optimizer, scaler):
        self.model, self.optimizer, self.scaler = model, optimizer, scaler

    def training_step(self, batch):
        with {context}:
            logits = self.model(batch["x"])
            loss = torch.nn.functional.cross_entropy(logits, batch["y"])
            self.scaler.scale(loss / 4).backward()
    """
    (finding,) = only(code, "GG305")
    assert finding.span.start.line + 1 == 12
    assert f"`{context}`" in finding.message


def test_flags_loss_from_a_no_grad_decorated_helper_and_global_switch():
    code = """
    import torch
    from torch import nn

    class LitModel(nn.Module):
        @torch.no_grad()
        def shared_step(self, batch):
            x, y = batch
            return nn.functional.mse_loss(self(x), y)

        def training_step(self, batch):
            loss = self.shared_step(batch)
            loss.backward()

    torch.set_grad_enabled(False)
    net = nn.Linear(2, 2)
    out = net(torch.randn(1, 2)).sum()
    out.backward()
    """
    assert lines_of(code, "GG305") == [13, 18]


def test_silent_on_correct_grad_mode_uses():
    code = """
    import torch
    from torch import nn

    model = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    def run_epoch(model, loader, criterion, phase):
        for inputs, targets in loader:
            # the transfer-learning tutorial's idiom: the mode is decided at run time
            with torch.set_grad_enabled(phase == "train"):
                loss = criterion(model(inputs), targets)
            if phase == "train":
                loss.backward()

    def validate(model, loader, criterion):
        model.eval()
        total = 0.0
        with torch.no_grad():
            for inputs, targets in loader:
                val_loss = criterion(model(inputs), targets)
                total += val_loss.item()
        return total

    for inputs, targets in loader:
        loss = nn.functional.mse_loss(model(inputs), targets)
        with torch.no_grad():
            loss.backward()  # backward inside no_grad on a loss built outside: works
            for p in model.parameters():
                p -= 0.1 * p.grad
            with torch.enable_grad():
                inner = model(inputs).sum()
            inner.backward()
        with torch.inference_mode(False):
            other = model(inputs).sum()
        other.backward()
        with torch.no_grad():
            probe = model(inputs)
        loss = nn.functional.mse_loss(model(inputs), targets)  # a fresh forward
        loss.backward()
    """
    assert only(code, "GG305") == []


def test_loss_rebound_on_some_paths_is_not_known():
    code = """
    import torch

    def step(model, x, y, warmup):
        with torch.no_grad():
            loss = model(x).sum()
        if not warmup:
            loss = (model(x) - y).pow(2).mean()
        loss.backward()
    """
    assert only(code, "GG305") == []


def test_flags_requires_grad_workaround_on_a_no_grad_loss():
    code = """
    import torch

    def train(model, loader, optimizer, criterion):
        for x, y in loader:
            with torch.no_grad():
                loss = criterion(model(x), y)
            loss.requires_grad_()
            loss.backward()
            optimizer.step()
    """
    (finding,) = only(code, "GG305")
    assert finding.span.start.line + 1 == 8
    assert "`loss.requires_grad_()` hides the error" in finding.message
    assert "trains nothing" in finding.message


def test_flags_requires_grad_assignment_before_backward():
    code = """
    import torch

    def train(model, loader, optimizer, criterion):
        for x, y in loader:
            with torch.no_grad():
                features = model.backbone(x)
            loss = criterion(model.head(features), y)
            loss.requires_grad = True  # "fixes" the RuntimeError
            loss.backward()
            optimizer.step()
    """
    (finding,) = only(code, "GG305")
    assert finding.span.start.line + 1 == 9
    assert "you can only change requires_grad flags of leaf variables." in finding.message
    assert "no parameter gets a `.grad`" in finding.message


def test_silent_on_requires_grad_of_leaves_and_harmless_requires_grad_():
    code = """
    import torch

    w = torch.zeros(3)
    w.requires_grad = True
    (w * 2).sum().backward()

    def step(model, x, y, criterion):
        loss = criterion(model(x), y)
        loss.requires_grad_()  # a no-op on a loss that requires grad
        loss.backward()
        images = x.clone().detach()
        images.requires_grad = True  # an adversarial input: a leaf made on purpose
        images.backward(torch.ones_like(images))
    """
    assert only(code, "GG305") == []


def test_silent_in_tests_that_expect_the_error():
    code = """
    import pytest
    import torch

    def test_backward_without_grad_raises(model, x):
        with torch.no_grad():
            loss = model(x).sum()
        with pytest.raises(RuntimeError, match="does not require grad"):
            loss.backward()
    """
    assert only(code, "GG305") == []
