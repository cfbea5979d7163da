import pytest

from gradguard.findings import Position, Span
from helpers import apply_fix, assert_all_fixes_repair, lines_of, only

HEADER = """
import torch
from torch import nn

model = nn.Linear(3, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
"""


def test_flags_zero_grad_between_backward_and_step_at_the_zero_grad():
    code = """
    import torch
    import torch.nn as nn

    model = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in loader:
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.zero_grad()
        optimizer.step()
    """
    (finding,) = only(code, "GG401")
    assert finding.span.start.line + 1 == 10
    assert finding.span.start.column == 4
    assert finding.span.end.column == len("    optimizer.zero_grad()")
    assert "`optimizer.zero_grad()`" in finding.message
    assert "`loss.backward()`" in finding.message
    assert "updates nothing" in finding.message
    assert finding.related[0].span.start.line + 1 == 11
    (fix,) = finding.fixes
    assert fix.title == "Move `optimizer.zero_grad()` before line 9"
    (fixed,) = assert_all_fixes_repair(code, "GG401")
    assert "    optimizer.zero_grad()\n    loss.backward()\n    optimizer.step()\n" in fixed


@pytest.mark.parametrize(
    "imports, construction",
    [
        ("import torch.optim as optim", "optim.Adam(model.parameters())"),
        ("from torch import optim", "optim.SGD(model.parameters(), lr=0.1)"),
        ("from torch.optim import AdamW as W", "W(model.parameters())"),
        ("import torch", "torch.optim.SGD(model.parameters(), lr=0.1)"),
    ],
)
def test_flags_with_every_import_style(imports, construction):
    code = f"""
import torch.nn as tnn
{imports}

model = tnn.Sequential(tnn.Linear(3, 4), tnn.ReLU(), tnn.Linear(4, 1))
opt = {construction}
for epoch in range(3):
    for x, y in loader:
        out = model(x)
        loss = ((out - y) ** 2).mean()
        loss.backward()
        opt.zero_grad()
        opt.step()
"""
    assert lines_of(code, "GG401") == [12]


def test_flags_in_training_function_and_method_of_trainer_class():
    code = """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 1)

        def forward(self, x):
            return self.fc(x)

    def train_step(model, optimizer, x, y):
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.zero_grad()
        optimizer.step()
        return loss.item()

    class Trainer:
        def __init__(self):
            self.model = Net()
            self.optimizer = torch.optim.Adam(self.model.parameters())

        def fit(self, loader):
            while True:
                for x, y in loader:
                    loss = self.model(x).sum()
                    loss.backward()
                    self.model.zero_grad()
                    self.optimizer.step()
    """
    assert lines_of(code, "GG401") == [16, 30]
    for fixed in assert_all_fixes_repair(code, "GG401"):
        assert "zero_grad()\n" in fixed


def test_flags_amp_scaler_step():
    code = (
        HEADER
        + """
scaler = torch.cuda.amp.GradScaler()
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 10)
for x, y in loader:
    with torch.autocast("cuda"):
        loss = model(x).sum()
    scaler.scale(loss).backward()
    optimizer.zero_grad(set_to_none=True)
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()
"""
    )
    (finding,) = only(code, "GG401")
    assert finding.span.start.line + 1 == 14
    assert "`scaler.step(optimizer)`" in finding.message
    (fixed,) = assert_all_fixes_repair(code, "GG401")
    assert "    optimizer.zero_grad(set_to_none=True)\n    scaler.scale(loss).backward()\n" in fixed


def test_set_to_none_false_says_zero_gradients():
    code = (
        HEADER
        + """
for x in loader:
    model(x).sum().backward()
    optimizer.zero_grad(set_to_none=False)
    optimizer.step()
"""
    )
    (finding,) = only(code, "GG401")
    assert "all-zero gradients" in finding.message


def test_flags_manual_clearing_loop_and_same_file_helper():
    code = (
        HEADER
        + """
def clear(opt):
    opt.zero_grad()

for x in loader:
    model(x).sum().backward()
    for p in model.parameters():
        p.grad = None
    optimizer.step()

for x in loader:
    model(x).sum().backward()
    clear(optimizer)
    optimizer.step()
"""
    )
    assert lines_of(code, "GG401") == [13, 19]
    findings = only(code, "GG401")
    # The loop is reported at its header, the helper at its call.
    header = "    for p in model.parameters()"
    assert findings[0].span == Span(Position(12, 4), Position(12, len(header)))
    assert "the loop over `model.parameters()`" in findings[0].message
    assert "`clear(optimizer)`" in findings[1].message
    # Neither a loop nor a helper call is a zero_grad() statement that could be moved.
    assert all(f.fixes == () for f in findings)


def test_flags_step_that_runs_before_the_backward_after_clearing():
    code = (
        HEADER
        + """
for x in loader:
    optimizer.zero_grad()
    optimizer.step()
    loss = model(x).sum()
    loss.backward()
"""
    )
    (finding,) = only(code, "GG401")
    assert finding.span.start.line + 1 == 10
    assert finding.span.end.column == len("    optimizer.step()")
    assert "before `loss.backward()`" in finding.message
    assert finding.related[0].span.start.line + 1 == 9
    (fixed,) = assert_all_fixes_repair(code, "GG401")
    assert fixed.endswith(
        "    optimizer.step()\n    loss = model(x).sum()\n    optimizer.zero_grad()\n"
        "    loss.backward()\n"
    )


def test_flags_clearing_at_the_end_of_the_iteration_before_the_next_step():
    code = (
        HEADER
        + """
for x in loader:
    optimizer.step()
    model(x).sum().backward()
    optimizer.zero_grad()
"""
    )
    # The clearing sits between this iteration's backward and the next iteration's step.
    (finding,) = only(code, "GG401")
    assert finding.span.start.line + 1 == 11
    (fixed,) = assert_all_fixes_repair(code, "GG401")
    assert fixed.endswith(
        "    optimizer.step()\n    optimizer.zero_grad()\n    model(x).sum().backward()\n"
    )


def test_flags_one_step_per_call_function_with_backward_after_step():
    code = (
        HEADER
        + """
def train_step(x):
    optimizer.zero_grad()
    optimizer.step()
    loss = model(x).sum()
    loss.backward()
"""
    )
    assert lines_of(code, "GG401") == [10]


def test_fix_keeps_tabs_crlf_and_trailing_comment():
    code = (
        "import torch\r\n"
        "model = torch.nn.Linear(2, 1)\r\n"
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\r\n"
        "for x in loader:\r\n"
        "\tloss = model(x).sum()\r\n"
        "\tloss.backward()\r\n"
        "\topt.zero_grad()  # reset\r\n"
        "\topt.step()\r\n"
    )
    (finding,) = only(code, "GG401")
    fixed = apply_fix(code, finding.fixes[0])
    assert fixed == (
        "import torch\r\n"
        "model = torch.nn.Linear(2, 1)\r\n"
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\r\n"
        "for x in loader:\r\n"
        "\tloss = model(x).sum()\r\n"
        "\topt.zero_grad()  # reset\r\n"
        "\tloss.backward()\r\n"
        "\topt.step()\r\n"
    )
    assert_all_fixes_repair(code, "GG401")


def test_fix_moves_before_the_first_of_several_backwards():
    code = (
        HEADER
        + """
for x in loader:
    model(x).sum().backward()
    model(x).mean().backward()
    optimizer.zero_grad()
    optimizer.step()
"""
    )
    (fixed,) = assert_all_fixes_repair(code, "GG401")
    assert "    optimizer.zero_grad()\n    model(x).sum().backward()\n" in fixed


@pytest.mark.parametrize(
    "body",
    [
        # zero_grad and backward in different blocks.
        "    with torch.autocast('cpu'):\n        model(x).sum().backward()\n"
        "    optimizer.zero_grad()\n    optimizer.step()\n",
        # zero_grad shares its line with another statement.
        "    model(x).sum().backward()\n    optimizer.zero_grad(); optimizer.step()\n",
        # the optimizer name is rebound in between.
        "    model(x).sum().backward()\n    optimizer = optimizers[0]\n"
        "    optimizer.zero_grad()\n    optimizer.step()\n",
    ],
)
def test_no_fix_where_a_move_cannot_be_correct(body):
    code = HEADER + "for x in loader:\n" + body
    (finding,) = only(code, "GG401")
    assert finding.fixes == ()


@pytest.mark.parametrize(
    "body",
    [
        # The canonical order.
        "    optimizer.zero_grad()\n    loss = model(x).sum()\n    loss.backward()\n"
        "    optimizer.step()\n",
        # Zeroing after the step.
        "    loss = model(x).sum()\n    loss.backward()\n    optimizer.step()\n"
        "    optimizer.zero_grad()\n",
        # Step first, then clear, then backward: the step uses the previous iteration's grads.
        "    optimizer.step()\n    optimizer.zero_grad()\n    loss = model(x).sum()\n"
        "    loss.backward()\n",
        # Accumulation with the step at the top of the iteration.
        "    if i % 4 == 0:\n        optimizer.step()\n        optimizer.zero_grad()\n"
        "    model(x).sum().backward()\n",
        # Accumulation with the step at the end.
        "    model(x).sum().backward()\n    if (i + 1) % 4 == 0:\n        optimizer.step()\n"
        "        optimizer.zero_grad()\n",
        # The clearing is conditional: the step may see gradients.
        "    model(x).sum().backward()\n    if skip:\n        optimizer.zero_grad()\n"
        "    optimizer.step()\n",
        # A conditional backward between the clearing and the step.
        "    optimizer.zero_grad()\n    if ok:\n        model(x).sum().backward()\n"
        "    optimizer.step()\n",
        # The scheduler is not an optimizer.
        "    optimizer.zero_grad()\n    model(x).sum().backward()\n    optimizer.step()\n"
        "    scheduler.step()\n",
        # Clearing a different optimizer.
        "    optimizer.zero_grad()\n    model(x).sum().backward()\n"
        "    other_optimizer.zero_grad()\n    optimizer.step()\n",
        # Zeroing after a step, then a second (redundant) step.
        "    model(x).sum().backward()\n    optimizer.step()\n    optimizer.zero_grad()\n"
        "    optimizer.step()\n",
        # The closure runs its own zero_grad and backward.
        "    optimizer.zero_grad()\n    optimizer.step(closure)\n    model(x).sum().backward()\n",
        # Scaling or clipping gradients is not clearing them.
        "    model(x).sum().backward()\n    for p in model.parameters():\n"
        "        p.grad.mul_(0.5)\n    optimizer.step()\n",
        # A helper the file does not show may run a backward.
        "    optimizer.zero_grad()\n    compute_and_backward(model, x)\n    optimizer.step()\n",
    ],
)
def test_does_not_flag_valid_or_uncertain_orders(body):
    code = (
        HEADER
        + "scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1)\n"
        + "other_optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        + "for i, x in enumerate(loader):\n"
        + body
    )
    assert only(code, "GG401") == []


def test_does_not_flag_gan_with_separate_optimizers():
    code = """
    import torch
    from torch import nn

    netG, netD = nn.Linear(2, 2), nn.Linear(2, 1)
    optG = torch.optim.Adam(netG.parameters())
    optD = torch.optim.Adam(netD.parameters())
    for x in loader:
        optD.zero_grad()
        netD(x).mean().backward()
        netG.zero_grad()
        optD.step()
        optG.zero_grad()
        netD(netG(x)).mean().backward()
        optG.step()
    """
    assert only(code, "GG401") == []


def test_does_not_flag_model_zero_grad_when_optimizer_params_unknown():
    code = """
    def train(model, optimizer, loader):
        for x in loader:
            model(x).sum().backward()
            model.zero_grad()
            optimizer.step()
    """
    assert only(code, "GG401") == []


def test_does_not_flag_non_optimizer_step_names():
    code = """
    for x in loader:
        loss = net(x).sum()
        loss.backward()
        net.zero_grad()
        env.step()
        trainer.step()
        lr_scheduler.step()
    """
    assert only(code, "GG401") == []


def test_survives_odd_shapes():
    code = """
    import torch
    opt = torch.optim.SGD(*args)
    while (x := next(it, None)) is not None:
        [l.backward() for l in losses]
        opt.zero_grad(*extra, **kw)
        getattr(opt, "step")()
        opt.step(**kw)
        (lambda: opt.step())()
        y = opt.step() if x else None
    """
    only(code, "GG401")
