from helpers import assert_all_fixes_repair, lines_of, only

HEADER = """
import torch
from torch import nn

model = nn.Linear(3, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
"""


def test_flags_zero_grad_every_micro_step_and_moves_it_after_the_step():
    code = (
        HEADER
        + """
for i, (x, y) in enumerate(loader):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y) / accumulation_steps
    loss.backward()
    if (i + 1) % accumulation_steps == 0:
        optimizer.step()
"""
    )
    (finding,) = only(code, "GG403")
    assert finding.span.start.line + 1 == 9
    assert "runs only when `(i + 1) % accumulation_steps == 0`" in finding.message
    assert finding.related[0].span.start.line + 1 == 13
    (fix,) = finding.fixes
    assert fix.safety.value == "unsafe"
    (fixed,) = assert_all_fixes_repair(code, "GG403")
    assert fixed.endswith("        optimizer.step()\n        optimizer.zero_grad()\n")


def test_flags_model_zero_grad_after_the_guarded_block_in_train_one_epoch():
    code = """
    import torch

    def train_one_epoch(model, loader, optimizer, scaler, args):
        model.train()
        for step, batch in enumerate(loader):
            with torch.autocast("cuda"):
                loss = model(**batch).loss / args.gradient_accumulation_steps
            scaler.scale(loss).backward()
            if step % args.gradient_accumulation_steps == 0:
                scaler.step(optimizer)
                scaler.update()
            model.zero_grad()
    """
    assert lines_of(code, "GG403") == [13]


def test_flags_module_zero_grad_inside_accelerate_accumulate():
    code = """
    from accelerate import Accelerator

    accelerator = Accelerator(gradient_accumulation_steps=4)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    for batch in loader:
        with accelerator.accumulate(model):
            loss = model(**batch).loss
            accelerator.backward(loss)
            optimizer.step()
            model.zero_grad()
    """
    (finding,) = only(code, "GG403")
    assert finding.span.start.line + 1 == 11
    assert "use `optimizer.zero_grad()`" in finding.message
    (fixed,) = assert_all_fixes_repair(code, "GG403")
    assert "        optimizer.zero_grad()\n" in fixed
    assert "model.zero_grad()" not in fixed


def test_silent_on_correct_accumulation():
    after_step = (
        HEADER
        + """
for i, (x, y) in enumerate(loader):
    (model(x).sum() / k).backward()
    if (i + 1) % k == 0:
        optimizer.step()
        optimizer.zero_grad()
"""
    )
    at_window_start = (
        HEADER
        + """
for i, (x, y) in enumerate(loader):
    if i % k == 0:
        optimizer.zero_grad()
    (model(x).sum() / k).backward()
    if (i + 1) % k == 0:
        optimizer.step()
"""
    )
    no_accumulation = (
        HEADER
        + """
for x, y in loader:
    optimizer.zero_grad()
    model(x).sum().backward()
    optimizer.step()
"""
    )
    accelerate = """
    for batch in loader:
        with accelerator.accumulate(model):
            accelerator.backward(model(**batch).loss)
            optimizer.step()
            optimizer.zero_grad()
    """
    for code in (after_step, at_window_start, no_accumulation, accelerate):
        assert only(code, "GG403") == []


def test_silent_on_gan_critic_loop():
    code = """
    for i, (imgs, _) in enumerate(dataloader):
        optimizer_D.zero_grad()
        d_loss = discriminator_loss(imgs)
        d_loss.backward()
        optimizer_D.step()
        optimizer_G.zero_grad()
        if i % n_critic == 0:
            g_loss = generator_loss()
            g_loss.backward()
            optimizer_G.step()
    """
    assert only(code, "GG403") == []


def test_flags_zero_grad_inside_a_micro_step_loop_before_one_step():
    code = """
    import torch

    def train(model, get_batch, optimizer, scaler, max_iters, gradient_accumulation_steps):
        for it in range(max_iters):
            for micro_step in range(gradient_accumulation_steps):
                optimizer.zero_grad(set_to_none=True)
                x, y = get_batch("train")
                with torch.autocast("cuda"):
                    loss = model(x, y) / gradient_accumulation_steps
                scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
    """
    (finding,) = only(code, "GG403")
    assert finding.span.start.line + 1 == 7
    assert "every pass of the loop on line 6" in finding.message


def test_silent_on_a_micro_step_loop_that_steps_inside_and_on_gan_critic_loops():
    steps_inside = """
    for batch in loader:
        for chunk in batch.split(4):
            optimizer.zero_grad()
            model(chunk).sum().backward()
            optimizer.step()
    """
    critic = """
    for real in loader:
        for _ in range(n_critic):
            opt_d.zero_grad()
            critic_loss(real).backward()
            opt_d.step()
        opt_g.zero_grad()
        generator_loss().backward()
        opt_g.step()
    """
    assert only(steps_inside, "GG403") == []
    assert only(critic, "GG403") == []
