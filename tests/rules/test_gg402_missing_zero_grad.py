import pytest

from helpers import apply_fix, assert_all_fixes_repair, lines_of, only

HEADER = """
import torch
from torch import nn

model = nn.Linear(3, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
"""


def test_flags_loop_without_clearing_at_the_step():
    code = """
    import torch
    import torch.nn as nn

    model = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in loader:
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    """
    (finding,) = only(code, "GG402")
    assert finding.span.start.line + 1 == 10
    assert finding.span.start.column == 4
    assert finding.span.end.column == len("    optimizer.step()")
    assert "never cleared" in finding.message
    assert "`loss.backward()`" in finding.message
    assert finding.related[0].span.start.line + 1 == 9
    (fix,) = finding.fixes
    assert fix.title == "Insert `optimizer.zero_grad()` before line 9"
    (fixed,) = assert_all_fixes_repair(code, "GG402")
    assert fixed.endswith(
        "    loss = nn.functional.mse_loss(model(x), y)\n    optimizer.zero_grad()\n"
        "    loss.backward()\n    optimizer.step()\n"
    )


@pytest.mark.parametrize(
    "imports, construction",
    [
        ("import torch.optim as optim", "optim.Adam(model.parameters())"),
        ("from torch import optim", "optim.SGD(model.parameters(), lr=0.1)"),
        ("from torch.optim import AdamW as W", "W(model.parameters())"),
        ("import torch", "torch.optim.SGD(model.parameters(), lr=0.1)"),
    ],
)
def test_flags_with_every_import_style_and_nested_epoch_loop(imports, construction):
    code = f"""
import torch.nn as tnn
import torchvision
{imports}

model = torchvision.models.resnet18()
opt = {construction}
for epoch in range(3):
    opt.zero_grad()  # once per epoch does not clear per iteration
    for x, y in loader:
        loss = tnn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
"""
    assert lines_of(code, "GG402") == [13]
    (fixed,) = assert_all_fixes_repair(code, "GG402")
    assert "        opt.zero_grad()\n        loss.backward()\n" in fixed


def test_flags_zeroing_only_before_the_loop():
    code = (
        HEADER
        + """
optimizer.zero_grad()
i = 0
while i < 10:
    loss = model(torch.randn(4, 3)).sum()
    loss.backward()
    optimizer.step()
    i += 1
"""
    )
    assert lines_of(code, "GG402") == [13]
    assert_all_fixes_repair(code, "GG402")


def test_flags_trainer_class_with_local_model_class():
    code = """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 1)

        def forward(self, x):
            return self.fc(x)

    class Trainer:
        def __init__(self):
            self.model = Net()
            self.optimizer = torch.optim.Adam(self.model.parameters())

        def fit(self, loader):
            for x, y in loader:
                with torch.autocast("cpu"):
                    loss = (self.model(x) - y).pow(2).mean()
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
    """
    (finding,) = only(code, "GG402")
    assert finding.span.start.line + 1 == 23
    (fixed,) = assert_all_fixes_repair(code, "GG402")
    assert (
        "            self.optimizer.zero_grad()\n            self.scaler.scale(loss).backward()\n"
        in fixed
    )


def test_flags_function_per_step_called_from_a_loop():
    code = (
        HEADER
        + """
def train_step(x, y):
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()

for epoch in range(2):
    for x, y in loader:
        train_step(x, y)
"""
    )
    (finding,) = only(code, "GG402")
    assert finding.span.start.line + 1 == 11
    assert "`train_step()` is called in a loop" in finding.message
    assert "each `loss.backward()` adds" in finding.message
    (fixed,) = assert_all_fixes_repair(code, "GG402")
    assert "    optimizer.zero_grad()\n    loss.backward()\n" in fixed


def test_flags_each_optimizer_of_a_gan_loop_and_fix_keeps_tabs_and_crlf():
    code = (
        "import torch\r\n"
        "netG = torch.nn.Linear(2, 2)\r\n"
        "netD = torch.nn.Linear(2, 1)\r\n"
        "optG = torch.optim.Adam(netG.parameters())\r\n"
        "optD = torch.optim.Adam(netD.parameters())\r\n"
        "for x in loader:\r\n"
        "\tnetD(x).mean().backward()\r\n"
        "\toptD.step()\r\n"
        "\tnetD(netG(x)).mean().backward()\r\n"
        "\toptG.step()\r\n"
    )
    findings = only(code, "GG402")
    assert [f.span.start.line + 1 for f in findings] == [8, 10]
    first = apply_fix(code, findings[0].fixes[0])
    assert "\r\n\toptD.zero_grad()\r\n\tnetD(x).mean().backward()\r\n" in first
    # Each optimizer's zero_grad() goes before the backward that feeds its step.
    second = apply_fix(code, findings[1].fixes[0])
    assert "\r\n\toptG.zero_grad()\r\n\tnetD(netG(x)).mean().backward()\r\n" in second
    assert "`netD(netG(x)).mean().backward()`" in findings[1].message
    assert_all_fixes_repair(code, "GG402")


GAN = """
import torch
from torch import nn

gen = nn.Linear(4, 2)
disc = nn.Linear(2, 1)
opt_gen = torch.optim.Adam(gen.parameters(), lr=2e-4)
opt_disc = torch.optim.Adam(disc.parameters(), lr=2e-4)
"""


def test_flags_an_optimizer_whose_gradients_only_another_optimizer_clears():
    code = (
        GAN
        + """
for z in loader:
    fake = gen(z)
    disc(fake.detach()).mean().backward()
    opt_disc.step()
    opt_gen.zero_grad()
    (-disc(fake).mean()).backward()
    opt_gen.step()
"""
    )
    (finding,) = only(code, "GG402")
    assert finding.span.start.line + 1 == 13
    assert "clears only the gradients of `opt_gen`" in finding.message
    (fixed,) = assert_all_fixes_repair(code, "GG402")
    assert "    opt_disc.zero_grad()\n    disc(fake.detach()).mean().backward()\n" in fixed


def test_flags_when_only_the_other_module_is_cleared():
    code = (
        GAN
        + """
for z in loader:
    gen.zero_grad()
    fake = gen(z)
    disc(fake.detach()).mean().backward()
    opt_disc.step()
    (-disc(fake).mean()).backward()
    opt_gen.step()
"""
    )
    (finding,) = only(code, "GG402")
    assert finding.span.start.line + 1 == 14
    assert "clears only the gradients of `gen`" in finding.message


@pytest.mark.parametrize(
    ("setup", "clearing"),
    [
        # Both are cleared.
        ("", "opt_gen.zero_grad(); opt_disc.zero_grad()"),
        # A module that holds the stepped one.
        ("pair = nn.ModuleList([gen, disc])\n", "pair.zero_grad(); opt_gen.zero_grad()"),
        # The other optimizer also holds the stepped one's parameters.
        (
            "opt_gen = torch.optim.Adam(list(gen.parameters()) + list(disc.parameters()))\n",
            "opt_gen.zero_grad()",
        ),
        # disc is a part of gen: clearing gen's optimizer clears it too.
        (
            "disc = gen.head\nopt_disc = torch.optim.Adam(disc.parameters())\n",
            "opt_gen.zero_grad()",
        ),
        # One optimizer holds a part of the other's model.
        ("opt_disc = torch.optim.Adam(gen.head.parameters())\n", "opt_gen.zero_grad()"),
        # A helper of the file clears something.
        ("def reset():\n    disc.zero_grad()\n", "opt_gen.zero_grad(); reset()"),
    ],
)
def test_does_not_flag_when_the_other_clearing_may_cover_the_step(setup, clearing):
    code = (
        GAN
        + setup
        + f"""
for z in loader:
    {clearing}
    fake = gen(z)
    disc(fake.detach()).mean().backward()
    opt_disc.step()
    (-disc(fake).mean()).backward()
    opt_gen.step()
"""
    )
    assert only(code, "GG402") == []


def test_does_not_match_clearings_to_optimizers_the_file_does_not_build():
    code = """
def train(gen, disc, opt_gen, opt_disc, loader):
    for z in loader:
        opt_gen.zero_grad()
        disc(gen(z)).mean().backward()
        opt_disc.step()
        opt_gen.step()
"""
    assert only(code, "GG402") == []


@pytest.mark.parametrize(
    "body",
    [
        # The first backward is inside an inner (micro-batch) loop.
        "    for mb in x.split(2):\n        model(mb).sum().backward()\n    optimizer.step()\n",
        # The first backward shares its line.
        "    loss = model(x).sum(); loss.backward()\n    optimizer.step()\n",
        # The first backward is conditional.
        "    loss = model(x).sum()\n    if loss.isfinite():\n        loss.backward()\n"
        "    optimizer.step()\n",
    ],
)
def test_no_fix_where_inserting_is_not_correct(body):
    code = HEADER + "for x in loader:\n" + body
    (finding,) = only(code, "GG402")
    assert finding.fixes == ()


def test_no_fix_when_the_optimizer_is_bound_inside_the_loop():
    code = (
        HEADER
        + """
for x in loader:
    model(x).sum().backward()
    for opt in [optimizer]:
        opt.step()
"""
    )
    (finding,) = only(code, "GG402")
    assert finding.fixes == ()


@pytest.mark.parametrize(
    "body",
    [
        # The canonical loop.
        "    optimizer.zero_grad()\n    model(x).sum().backward()\n    optimizer.step()\n",
        # Zeroing after step().
        "    model(x).sum().backward()\n    optimizer.step()\n    optimizer.zero_grad()\n",
        # Gradient accumulation: the step and the zeroing under a condition.
        "    (model(x).sum() / 4).backward()\n    if (i + 1) % 4 == 0:\n"
        "        optimizer.step()\n        optimizer.zero_grad()\n",
        # Gradient accumulation: only the zeroing under a condition.
        "    if i % 4 == 0:\n        optimizer.zero_grad()\n    model(x).sum().backward()\n"
        "    optimizer.step()\n",
        # Gradient accumulation: the step under a condition.
        "    model(x).sum().backward()\n    if (i + 1) % 4 == 0:\n        optimizer.step()\n",
        # model.zero_grad(), set_to_none, manual loops.
        "    model.zero_grad()\n    model(x).sum().backward()\n    optimizer.step()\n",
        "    optimizer.zero_grad(set_to_none=True)\n    model(x).sum().backward()\n"
        "    optimizer.step()\n",
        "    for p in model.parameters():\n        p.grad = None\n"
        "    model(x).sum().backward()\n    optimizer.step()\n",
        "    model(x).sum().backward()\n    optimizer.step()\n    for p in model.parameters():\n"
        "        if p.grad is not None:\n            p.grad.zero_()\n",
        # Zeroing in a same-file helper (two levels deep).
        "    reset(optimizer)\n    model(x).sum().backward()\n    optimizer.step()\n",
        # The scheduler is not an optimizer.
        "    model(x).sum().backward()\n    scheduler.step()\n",
        # Closure-style optimizers zero in the closure.
        "    optimizer.step(closure)\n",
    ],
)
def test_does_not_flag(body):
    code = (
        HEADER
        + "scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1)\n"
        + "def clear(opt):\n    opt.zero_grad()\n"
        + "def reset(opt):\n    clear(opt)\n"
        + "for i, x in enumerate(loader):\n"
        + body
    )
    assert only(code, "GG402") == []


def test_does_not_flag_function_per_step_when_the_caller_zeroes():
    code = (
        HEADER
        + """
def train_step(x):
    model(x).sum().backward()
    optimizer.step()

for x in loader:
    optimizer.zero_grad()
    train_step(x)
"""
    )
    assert only(code, "GG402") == []


def test_does_not_flag_function_per_step_without_visible_loop():
    code = """
    import lightning as L

    class Lit(L.LightningModule):
        def training_step(self, batch, batch_idx):
            opt = self.optimizers()
            self.manual_backward(self(batch).sum())
            opt.step()

    def train_step(model, optimizer, x):
        model(x).sum().backward()
        optimizer.step()

    train_step(model, optimizer, x)
    """
    assert only(code, "GG402") == []


def test_does_not_flag_accumulating_function_called_under_a_condition():
    code = (
        HEADER
        + """
def train_step(x):
    model(x).sum().backward()
    optimizer.step()

for i, x in enumerate(loader):
    if i % 2:
        train_step(x)
    optimizer.zero_grad() if i % 4 == 0 else None
"""
    )
    assert only(code, "GG402") == []


def test_does_not_flag_single_step_script_or_non_optimizers():
    code = """
    import torch
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model(x).sum().backward()
    optimizer.step()
    for obs in episodes:
        loss = policy(obs).sum()
        loss.backward()
        env.step()
        trainer.step()
    """
    assert only(code, "GG402") == []


def test_survives_odd_shapes():
    code = """
    import torch
    opt = torch.optim.SGD(*args)
    def helper(*a, **k):
        helper(*a)
    while (x := next(it, None)) is not None:
        [l.backward() for l in losses]
        helper(*x)
        opt.step()
        (lambda: opt.step())()
        del x
    """
    only(code, "GG402")


def test_flags_method_per_step_called_from_the_classes_own_loop():
    code = """
    import torch

    class Trainer:
        def __init__(self, model):
            self.model = model
            self.optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

        def train_step(self, batch):
            loss = self.model(batch).sum()
            loss.backward()
            self.optimizer.step()

        def fit(self, loader):
            while True:
                for batch in loader:
                    self.train_step(batch)
    """
    (finding,) = only(code, "GG402")
    assert finding.span.start.line + 1 == 12
    (fixed,) = assert_all_fixes_repair(code, "GG402")
    assert "        self.optimizer.zero_grad()\n        loss.backward()\n" in fixed


def test_does_not_flag_method_per_step_when_the_method_zeroes_through_a_helper():
    code = """
    import torch

    class Trainer:
        def reset(self):
            for p in self.model.parameters():
                p.grad = None

        def train_step(self, batch):
            self.model(batch).sum().backward()
            self.optimizer.step()
            self.reset()

        def fit(self, loader):
            for batch in loader:
                self.train_step(batch)
    """
    assert only(code, "GG402") == []


def test_silent_on_a_loop_that_builds_model_and_optimizer_each_iteration():
    code = """
    import torch

    for config in configs:
        model = build_model(config)
        optim = torch.optim.SGD(model.parameters(), lr=0.1)
        loss = model(data).sum()
        loss.backward()
        optim.step()
        evaluate(model)
    """
    assert only(code, "GG402") == []


def test_silent_when_only_the_model_is_rebuilt_per_fold():
    code = (
        HEADER
        + """
for fold in range(5):
    model = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
"""
    )
    assert only(code, "GG402") == []


def test_flags_zero_grad_only_in_the_amp_branch():
    code = """
    import torch

    def train_one_epoch(model, loader, optimizer, scaler, args):
        for x, y in loader:
            loss = model(x, y)
            if args.amp:
                optimizer.zero_grad()
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
    """
    (finding,) = only(code, "GG402")
    assert finding.span.start.line + 1 == 14
    assert "cleared only when `args.amp` is true" in finding.message
    assert finding.related[0].span.start.line + 1 == 13
    (fixed,) = assert_all_fixes_repair(code, "GG402")
    assert (
        "        else:\n            optimizer.zero_grad()\n            loss.backward()\n" in fixed
    )


def test_flags_clearing_under_a_flag_with_an_unconditional_step():
    code = (
        HEADER
        + """
for x, y in loader:
    if not args.keep_grads:
        optimizer.zero_grad()
    model(x).sum().backward()
    optimizer.step()
"""
    )
    (finding,) = only(code, "GG402")
    assert "cleared only when `not args.keep_grads` is true" in finding.message
    (fixed,) = assert_all_fixes_repair(code, "GG402")
    assert "        optimizer.zero_grad()\n    optimizer.zero_grad()\n    model(x)" in fixed


def test_silent_when_both_branches_clear_or_clearing_is_accumulation():
    both = """
    for x, y in loader:
        if args.amp:
            optimizer.zero_grad()
            scaler.scale(model(x)).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.zero_grad()
            model(x).backward()
            optimizer.step()
    """
    accumulation = """
    for i, (x, y) in enumerate(loader):
        if i % k == 0:
            optimizer.zero_grad()
        model(x).backward()
        optimizer.step()
    """
    outside = """
    for x, y in loader:
        optimizer.zero_grad()
        if args.amp:
            model.zero_grad()
        model(x).backward()
        optimizer.step()
    """
    for code in (both, accumulation, outside):
        assert only(code, "GG402") == []


def test_silent_on_a_test_loop_building_a_wrapped_optimizer_per_case():
    code = """
    from torch.optim import SGD

    def run_strategy(self):
        for skip_init, cfg in [(True, "local"), (False, "full")]:
            model = ToyModel()
            optim = OptimWrapper(SGD(model.parameters(), lr=0.1))
            model, optim = strategy.prepare(model=model, optim_wrapper=optim)
            loss = model(data)["loss"]
            loss.backward()
            optim.step()
    """
    assert only(code, "GG402") == []


def test_still_flags_an_optimizer_rebuilt_around_a_persisting_model():
    code = """
    import torch

    def fine_tune(model, data):
        for inputs, targets in data:
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
            loss = torch.nn.functional.cross_entropy(model(inputs), targets)
            loss.backward()
            optimizer.step()
    """
    assert lines_of(code, "GG402") == [9]


def test_flags_a_trainer_method_clearing_only_in_its_amp_branch():
    # Issue 11's shape in a trainer class: `self.args.amp` clears, the `else` path does not.
    code = """
    import torch
    from torch import nn


    class Trainer:
        def __init__(self, model, args):
            self.model = model
            self.args = args
            self.optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
            self.scaler = torch.amp.GradScaler("cuda", enabled=args.amp)

        def train_epoch(self, loader):
            self.model.train()
            for images, labels in loader:
                if self.args.amp:
                    self.optimizer.zero_grad(set_to_none=True)
                    with torch.autocast("cuda", dtype=torch.float16):
                        loss = nn.functional.cross_entropy(self.model(images), labels)
                    self.scaler.scale(loss).backward()
                    self.scaler.step(self.optimizer)
                    self.scaler.update()
                else:
                    loss = nn.functional.cross_entropy(self.model(images), labels)
                    loss.backward()
                    self.optimizer.step()
    """
    (finding,) = only(code, "GG402")
    assert "cleared only when `self.args.amp` is true" in finding.message
    assert code.splitlines()[finding.span.start.line].strip() == "self.optimizer.step()"
    both = code.replace("else:\n", "else:\n" + " " * 20 + "self.optimizer.zero_grad()\n")
    assert only(both, "GG402") == []


# -- a step skipped only when the gradients are not finite (wekws#73) --------------------

EXECUTOR = """
import torch
from torch import nn


class Executor:
    def train(self, model, optimizer, data_loader, clip):
        for feats, target in data_loader:
            loss = nn.functional.cross_entropy(model(feats), target)
            loss.backward()
            grad_norm = nn.utils.clip_grad_norm_(model.parameters(), clip)
            if {test}:
                optimizer.step()
"""


@pytest.mark.parametrize(
    "test",
    [
        "torch.isfinite(grad_norm)",
        "torch.isfinite(grad_norm).all()",
        "bool(torch.isfinite(grad_norm))",
        "math.isfinite(grad_norm.item())",
        "not torch.isnan(grad_norm)",
        "not (torch.isnan(grad_norm) or torch.isinf(grad_norm))",
    ],
)
def test_a_step_skipped_only_on_non_finite_gradients_still_accumulates(test):
    code = EXECUTOR.format(test=test)
    (finding,) = only(code, "GG402")
    assert finding.span.start.line + 1 == 13
    (fixed,) = assert_all_fixes_repair(code, "GG402")
    assert "            optimizer.zero_grad()\n            loss.backward()\n" in fixed


@pytest.mark.parametrize(
    "test",
    [
        "torch.isfinite(grad_norm) and (step + 1) % 4 == 0",  # also an accumulation test
        "grad_norm < clip",
        "not torch.isnan(grad_norm) and ready",
        "torch.isfinite(grad_norm) or warmup",
    ],
)
def test_other_conditions_around_the_step_read_as_accumulation(test):
    assert only(EXECUTOR.format(test=test), "GG402") == []


def test_a_finite_check_with_clearing_is_silent():
    code = EXECUTOR.format(test="torch.isfinite(grad_norm)").replace(
        "            loss.backward()\n",
        "            optimizer.zero_grad()\n            loss.backward()\n",
    )
    assert only(code, "GG402") == []
