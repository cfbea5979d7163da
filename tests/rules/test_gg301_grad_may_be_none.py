import ast
import textwrap

import pytest

from helpers import apply_fix, assert_all_fixes_repair, lines_of, only

# A file that freezes a layer: a loop over parameters then has a reason to be checked.
FROZEN = "import torch\nmodel.embed.requires_grad_(False)\n"

# -- positives --------------------------------------------------------------------------


def test_loop_over_parameters_after_backward_with_a_frozen_layer():
    code = """
    import torch.optim as optim
    from torch import nn

    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    model[0].requires_grad_(False)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    for x, y in loader:
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        for p in model.parameters():
            p.grad.data.clamp_(-1, 1)
        optimizer.step()
    """
    (finding,) = only(code, "GG301")
    assert finding.span.start.line == 11
    (related,) = finding.related
    assert related.span.start.line == 5 and related.message == "parameters are frozen here"
    # The range is the `.grad` use: `p.grad.data`.
    assert (finding.span.start.column, finding.span.end.column) == (8, 8 + len("p.grad.data"))
    assert "'NoneType' object has no attribute 'data'" in finding.message
    assert "not used in the loss, or frozen" in finding.message


def test_named_parameters_loop_in_a_function_and_comprehension():
    code = """
    import torch

    def freeze_embeddings(model):
        model.embed.weight.requires_grad = False

    def log_gradients(model, writer, step):
        for name, param in model.named_parameters():
            writer.add_histogram(name, param.grad.cpu(), step)
        norms = [p.grad.norm() for p in model.parameters()]
        total = sum(p.grad.data.norm(2) ** 2 for p in list(model.parameters()))
        return norms, total
    """
    assert lines_of(code, "GG301") == [9, 10, 11]


def test_manual_zeroing_in_a_training_method_of_a_class():
    code = """
    import torch
    from torch.optim import AdamW as W

    class Trainer:
        def __init__(self, model):
            self.model = model
            for p in model.encoder.parameters():
                p.requires_grad = False
            self.opt = W(model.parameters(), lr=1e-3)

        def step(self, batch):
            loss = self.model(batch).mean()
            loss.backward()
            self.opt.step()
            for p in self.model.parameters():
                p.grad.zero_()
    """
    (finding,) = only(code, "GG301")
    assert finding.span.start.line == 16
    assert "'NoneType' object has no attribute 'zero_'" in finding.message


def test_before_first_backward_script():
    code = """
    import torch

    w = torch.randn(3, requires_grad=True)
    w.grad.zero_()
    for step in range(10):
        loss = (w * 2).sum()
        loss.backward()
    """
    (finding,) = only(code, "GG301")
    assert finding.span.start.line == 4
    assert "until a backward() reaches `w`" in finding.message
    assert finding.related[0].span.start.line == 3


def test_zeroing_at_the_top_of_the_loop_before_backward():
    code = """
    import torch

    w = torch.randn(3, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    for step in range(10):
        w.grad.zero_()
        b.grad.data.zero_()
        loss = (w.sum() + b).pow(2).sum()
        loss.backward()
        with torch.no_grad():
            w -= 0.1 * w.grad
            b -= 0.1 * b.grad
    """
    assert lines_of(code, "GG301") == [7, 8]


def test_new_model_parameter_grad_before_backward():
    code = """
    import torch.nn as tnn

    class Net(tnn.Module):
        def __init__(self):
            super().__init__()
            self.fc = tnn.Linear(2, 2)

    model = Net()
    print(model.fc.weight.grad.norm())
    """
    assert lines_of(code, "GG301") == [10]


@pytest.mark.parametrize(
    "zero_grad",
    ["optimizer.zero_grad()", "model.zero_grad()", "optimizer.zero_grad(set_to_none=True)"],
)
def test_after_zero_grad(zero_grad):
    code = f"""
    import torch
    from torch import optim

    model = torch.nn.Linear(3, 1)
    optimizer = optim.Adam(model.parameters())
    for x in batches:
        loss = model(x).sum()
        loss.backward()
        optimizer.step()
        {zero_grad}
        model.weight.grad.data.mul_(0.5)
    """
    (finding,) = only(code, "GG301")
    assert finding.span.start.line == 11
    assert "set_to_none=True" in finding.message
    assert finding.related[0].span.start.line == 10


def test_after_zero_grad_at_the_end_of_the_previous_iteration():
    code = """
    import torch

    def train(model, optimizer, loader):
        for x in loader:
            model.weight.grad.data.clamp_(-1, 1)
            loss = model(x).sum()
            loss.backward()
            optimizer.step()
            model.zero_grad()
    """
    (finding,) = only(code, "GG301")
    assert finding.span.start.line == 5
    assert "`model.zero_grad()` on line 10" in finding.message


def test_after_zero_grad_after_the_training_loop():
    code = """
    import torch
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for x in data:
        model(x).sum().backward()
        opt.step()
        opt.zero_grad()
    print(model.weight.grad.norm())
    """
    assert lines_of(code, "GG301") == [9]


def test_after_grad_set_to_none():
    code = """
    import torch
    w = torch.randn(3, requires_grad=True)
    (w * 2).sum().backward()
    w.grad = None
    w.grad.zero_()
    """
    (finding,) = only(code, "GG301")
    assert "set to None on line 5" in finding.message


def test_tensor_that_never_required_grad():
    code = """
    import torch
    from torch import nn

    model = nn.Linear(3, 1)
    x = torch.randn(8, 3)
    out = model(x)
    loss = out.sum()
    loss.backward()
    saliency = x.grad.abs()
    """
    (finding,) = only(code, "GG301")
    assert finding.span.start.line == 9
    assert "`x` does not require grad" in finding.message
    assert "'abs'" in finding.message


# -- negatives: every "must not flag" item --------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        # dominated by `if x.grad is not None:`
        "if p.grad is not None:\n    p.grad.zero_()",
        "if p.grad is not None:\n    if step > 0:\n        p.grad.data.clamp_(-1, 1)",
        # `if x.grad is None: continue`
        "if p.grad is None:\n    continue\np.grad.data.clamp_(-1, 1)",
        "if not p.requires_grad or p.grad is None:\n    continue\np.grad.zero_()",
        # `if p.grad is not None and ...`
        "if p.grad is not None and p.grad.norm() > 1:\n    p.grad.div_(2)",
        # walrus guard
        "if (g := p.grad) is not None:\n    p.grad.zero_()",
        # getattr-style guard
        'if getattr(p, "grad", None) is not None:\n    p.grad.zero_()',
        # an assignment before the use
        "p.grad = torch.zeros_like(p)\np.grad.add_(1.0)",
        "if p.grad is None:\n    p.grad = torch.zeros_like(p)\np.grad.add_(1.0)",
        # early return / assert
        "assert p.grad is not None\np.grad.zero_()",
        # the else branch of a None test, conditional expression, and/or
        "if p.grad is None:\n    pass\nelse:\n    p.grad.zero_()",
        "n = p.grad.norm() if p.grad is not None else 0.0",
        "ok = p.grad is not None and p.grad.abs().sum() > 0",
        "bad = p.grad is None or p.grad.isnan().any()",
        # frozen parameters handled on purpose
        "if p.requires_grad:\n    p.grad.data.clamp_(-1, 1)",
        # the None case handled by an exception handler
        "try:\n    p.grad.zero_()\nexcept AttributeError:\n    pass",
        # a backward involving p directly in the same block
        "loss = (p ** 2).sum()\nloss.backward()\np.grad.data.clamp_(-1, 1)",
    ],
)
def test_guarded_loops_over_parameters_are_not_flagged(body):
    code = FROZEN + "for p in model.parameters():\n" + textwrap.indent(body, "    ") + "\n"
    assert only(code, "GG301") == []


@pytest.mark.parametrize(
    "code",
    [
        # comprehension filter
        "grads = [p.grad.norm() for p in model.parameters() if p.grad is not None]",
        "g = {n: p.grad.cpu() for n, p in model.named_parameters() if p.grad is not None}",
        # torch's own clip_grad style
        "grads = [p.grad for p in parameters if p.grad is not None]\n"
        "norms = [g.norm() for g in grads]",
        # custom optimizer step (param_groups, not parameters())
        "for group in self.param_groups:\n"
        "    for p in group['params']:\n"
        "        if p.grad is None:\n"
        "            continue\n"
        "        d_p = p.grad.data",
    ],
)
def test_guarded_expressions_are_not_flagged(code):
    assert only(code, "GG301") == []


def test_read_right_after_backward_is_not_flagged():
    code = """
    import torch
    w = torch.randn(3, requires_grad=True)
    for step in range(5):
        loss = (w ** 2).sum()
        loss.backward()
        with torch.no_grad():
            w -= 0.1 * w.grad
        w.grad.zero_()
    """
    assert only(code, "GG301") == []


def test_model_parameter_after_backward_is_not_flagged():
    code = """
    import torch
    from torch import nn
    model = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in loader:
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        print(model.weight.grad.norm())
        optimizer.step()
    """
    assert only(code, "GG301") == []


def test_zero_grad_keeping_zeros_is_not_flagged():
    code = """
    import torch
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model(torch.randn(2, 3)).sum().backward()
    opt.zero_grad(set_to_none=False)
    model.weight.grad.add_(1.0)
    model.zero_grad(False)
    model.weight.grad.add_(1.0)
    """
    assert only(code, "GG301") == []


def test_zero_grad_of_an_unrelated_optimizer_is_not_flagged():
    code = """
    import torch
    gen = torch.nn.Linear(3, 1)
    disc = torch.nn.Linear(3, 1)
    opt_d = torch.optim.SGD(disc.parameters(), lr=0.1)
    gen(torch.randn(2, 3)).sum().backward()
    opt_d.zero_grad()
    gen.weight.grad.norm()
    """
    assert only(code, "GG301") == []


@pytest.mark.parametrize(
    "code",
    [
        # input that requires grad: set after creation
        "x = torch.randn(3)\nx.requires_grad_()\n(x * 2).sum().backward()\nx.grad.zero_()",
        "x = torch.randn(3)\nx.requires_grad = True\n(x * 2).sum().backward()\nx.grad.zero_()",
        # backward involving x directly
        "x = torch.randn(3)\nloss = model(x).sum()\nloss.backward()\nx.grad.zero_()",
        # a helper may have run backward
        "model = Net()\ntrain(model)\nprint(model.fc.weight.grad.norm())",
        # backward only in one branch: unknown
        "w = torch.randn(3, requires_grad=True)\nif warm:\n    (w * 2).sum().backward()\n"
        "w.grad.zero_()",
        # the use is in a branch the creation is not in (`if step > 0:`)
        "w = torch.randn(3, requires_grad=True)\nfor step in range(3):\n    if step > 0:\n"
        "        w.grad.zero_()\n    (w * 2).sum().backward()",
        # a parameter of a function: no idea whether backward ran
        "def clip(w):\n    w.grad.data.clamp_(-1, 1)",
        # a zero_grad only in one branch
        "def f(model, opt):\n    if i % 4 == 0:\n        opt.zero_grad()\n"
        "    model.weight.grad.norm()",
        # not `.grad` of a tensor at all
        "x = torch.randn(3)\nprint(x.grad)\ny = x.grad",
    ],
)
def test_unknown_or_fine_states_are_not_flagged(code):
    assert only("import torch\n" + code + "\n", "GG301") == []


def test_engine_does_not_raise_on_odd_shapes():
    code = """
    import torch
    f().grad.zero_()
    a[0].grad.zero_()
    for (a, *b) in model.parameters():
        b.grad.zero_()
    for p in model.parameters:
        p.grad.zero_()
    lambda p: p.grad.zero_()
    class K:
        w.grad.zero_()
    try:
        pass
    except Exception:
        w = torch.randn(3, requires_grad=True)
        w.grad.zero_()
    match x:
        case 1:
            q.grad.zero_()
    """
    only(code, "GG301")  # must not raise


# -- fixes ------------------------------------------------------------------------------


def test_fixes_for_zeroing_in_a_parameter_loop():
    code = """
    import torch

    def freeze(model):
        model.backbone.requires_grad_(False)

    def reset(model):
        for p in model.parameters():
            p.grad.zero_()  # clear
    """
    (finding,) = only(code, "GG301")
    titles = [fix.title for fix in finding.fixes]
    assert titles == ["Wrap in `if p.grad is not None:`", "Replace with `p.grad = None`"]
    wrapped, cleared = assert_all_fixes_repair(code, "GG301")
    assert "        if p.grad is not None:\n            p.grad.zero_()  # clear\n" in wrapped
    assert "        p.grad = None  # clear\n" in cleared
    assert all(fix.is_safe for fix in finding.fixes)


def test_data_zeroing_fix_and_wrap_of_multiline_statement():
    code = """
    import torch
    model.embed.requires_grad_(False)
    for p in model.parameters():
        p.grad.data.zero_()
        p.grad.data.clamp_(
            -1.0, 1.0
        )
    """
    results = assert_all_fixes_repair(code, "GG301")
    assert any("    p.grad = None\n" in text for text in results)
    assert any(
        "    if p.grad is not None:\n        p.grad.data.clamp_(\n            -1.0, 1.0\n        )"
        in text
        for text in results
    )


def test_wrap_keeps_tabs_and_crlf():
    code = (
        "import torch\r\nmodel.embed.requires_grad_(False)\r\n"
        "for p in model.parameters():\r\n\tp.grad.mul_(2)\r\n\tprint(1)\r\n"
    )
    (finding,) = only(code, "GG301")
    (fix,) = finding.fixes
    fixed = apply_fix(code, fix)
    assert fixed == (
        "import torch\r\nmodel.embed.requires_grad_(False)\r\n"
        "for p in model.parameters():\r\n\tif p.grad is not None:\r\n"
        "\t\tp.grad.mul_(2)\r\n\tprint(1)\r\n"
    )
    ast.parse(fixed)


def test_wrap_at_end_of_file_without_newline():
    code = "import torch\nw = torch.ones(2, requires_grad=True)\nw.grad.zero_()"
    fixed = assert_all_fixes_repair(code, "GG301")
    assert fixed[0].endswith("if w.grad is not None:\n    w.grad.zero_()")


def test_wrap_of_an_assignment_to_an_attribute():
    code = """
    import torch
    model.embed.requires_grad_(False)
    for p in model.parameters():
        p.grad.data = p.grad / 4
    """
    (fixed,) = assert_all_fixes_repair(code, "GG301")
    assert "    if p.grad is not None:\n        p.grad.data = p.grad / 4\n" in fixed


@pytest.mark.parametrize(
    "code",
    [
        # binds a name used later: skipping it would leave `n` undefined
        FROZEN + "for p in model.parameters():\n    n = p.grad.norm()\n",
        FROZEN + "for p in model.parameters():\n    print((n := p.grad.norm()))\n",
        # shares its line with another statement
        FROZEN + "for p in model.parameters(): p.grad.mul_(2)\n",
        FROZEN + "for p in model.parameters():\n    x = 1; p.grad.mul_(2)\n",
    ],
)
def test_no_wrap_where_it_cannot_be_correct(code):
    (finding,) = only(code, "GG301")
    assert all("Wrap" not in fix.title for fix in finding.fixes)


def test_zeroing_replacement_on_a_shared_line_still_parses():
    code = FROZEN + "for p in model.parameters(): p.grad.zero_()\n"
    (fixed,) = assert_all_fixes_repair(code, "GG301")
    assert fixed.endswith("for p in model.parameters(): p.grad = None\n")


def test_loop_after_an_assertion_that_every_grad_exists_is_not_flagged():
    code = """
    import torch

    def check(self, model):
        model(torch.randn(2, 2)).sum().backward()
        self.assertTrue(not any(p.grad is None for p in model.parameters()))
        grads = torch.cat([p.grad.view(-1) for p in model.parameters()])
        assert all(p.grad is not None for p in model.parameters())
        for p in model.parameters():
            p.grad.zero_()
    """
    assert only(code, "GG301") == []


def test_zeroing_before_backward_when_the_forward_uses_tensor_methods():
    code = """
    import torch

    x = torch.randn(8, 4)
    w1 = torch.randn(4, 6, requires_grad=True)
    w2 = torch.randn(6, 1, requires_grad=True)
    for step in range(10):
        out = x.mm(w1).clamp(min=0).matmul(w2)
        loss = out.pow(2).sum()
        w1.grad.zero_()
        loss.backward()
        with torch.no_grad():
            w1 -= 1e-3 * w1.grad
            w2 -= 1e-3 * w2.grad
            w2.grad.zero_()
    """
    assert lines_of(code, "GG301") == [10]
    assert_all_fixes_repair(code, "GG301")


def test_a_helper_call_with_the_tensor_still_counts_as_a_possible_backward():
    code = """
    import torch

    w = torch.randn(4, requires_grad=True)
    for step in range(10):
        fit_step(w)
        w.grad.zero_()
    """
    assert only(code, "GG301") == []


# -- issue 11, shape 12: a loop over parameters reports only what the file shows ----------

NET = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 8)
        self.head = nn.Linear(8, 2)
{extra_init}
    def forward(self, x):
{forward}
"""
FORWARD_ALL = "        return self.head(torch.relu(self.body(x)))"
TRAIN_AND_CLIP = """
model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)


def train_one_epoch(model, loader):
    for x, y in loader:
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        for p in model.parameters():
            p.grad.data.clamp_(-1.0, 1.0)
        optimizer.step()
        optimizer.zero_grad()


def clip(model):
    params = list(model.parameters())
    for p in params:
        p.grad.mul_(0.5)


train_one_epoch(model, loader)
clip(model)
for p in model.parameters():
    p.grad.mul_(0.5)
params = list(model.parameters())
for p in params:
    p.grad.mul_(0.5)
"""


def net(forward=FORWARD_ALL, extra_init=""):
    return NET.format(forward=forward, extra_init=extra_init)


def test_every_parameter_takes_part_torch_layers():
    code = """
    import torch
    from torch import nn

    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in loader:
        nn.functional.mse_loss(model(x), y).backward()
        for p in model.parameters():
            p.grad.data.clamp_(-1, 1)
        params = model.parameters()
        for p in params:
            p.grad.data.clamp_(-1, 1)
        optimizer.step()
    """
    assert only(code, "GG301") == []


def test_every_parameter_takes_part_same_file_module():
    assert only(net() + TRAIN_AND_CLIP, "GG301") == []


def test_an_unknown_model_with_nothing_frozen_is_left_alone():
    code = """
    import torch

    def log_gradients(model, writer, step):
        for name, param in model.named_parameters():
            writer.add_histogram(name, param.grad.cpu(), step)
    """
    assert only(code, "GG301") == []


def test_a_layer_forward_never_uses():
    code = net(extra_init="        self.aux_head = nn.Linear(8, 2)\n") + TRAIN_AND_CLIP
    findings = only(code, "GG301")
    # In the function, through a local list, at module level, through a variable: alike.
    grad_lines = [n for n, line in enumerate(code.splitlines(), 1) if "p.grad" in line]
    assert [f.span.start.line + 1 for f in findings] == grad_lines
    assert len(grad_lines) == 4
    for finding in findings:
        (related,) = finding.related
        assert related.message == "`Net.forward()` never uses `self.aux_head`"
        assert related.span.start.line + 1 == 11


def test_a_branch_in_forward_that_picks_layers():
    forward = (
        "        x = torch.relu(self.body(x))\n"
        "        if self.training:\n"
        "            return self.head(x)\n"
        "        return x\n"
    )
    findings = only(net(forward) + TRAIN_AND_CLIP, "GG301")
    assert len(findings) == 4
    assert findings[0].related[0].message == "a branch in `forward()` decides which layers run"


def test_a_branch_that_only_reads_the_input_is_not_a_reason():
    forward = (
        "        if x.dim() == 1:\n"
        "            x = x.unsqueeze(0)\n"
        "        return self.head(torch.relu(self.body(x)))\n"
    )
    assert only(net(forward) + TRAIN_AND_CLIP, "GG301") == []


def test_a_layer_run_under_no_grad_in_forward():
    forward = (
        "        with torch.no_grad():\n            x = self.body(x)\n        return self.head(x)\n"
    )
    assert len(only(net(forward) + TRAIN_AND_CLIP, "GG301")) == 4


def test_a_frozen_layer_in_init():
    extra = "        self.body.requires_grad_(False)\n"
    findings = only(net(extra_init=extra) + TRAIN_AND_CLIP, "GG301")
    assert len(findings) == 4
    assert findings[0].related[0].message == "parameters are frozen here"


def test_a_helper_method_forward_calls_counts_as_used():
    code = net(
        forward="        return self.head(self.encode(x))\n\n    def encode(self, x):\n"
        "        return torch.relu(self.body(x))\n"
    )
    assert only(code + TRAIN_AND_CLIP, "GG301") == []


def test_trainer_class_with_its_model_in_a_field():
    trainer = """

class Trainer:
    def __init__(self):
        self.model = Net()
        self.optimizer = torch.optim.Adam(self.model.parameters())

    def step(self, x, y):
        loss = nn.functional.mse_loss(self.model(x), y)
        loss.backward()
        for p in self.model.parameters():
            p.grad.data.clamp_(-1.0, 1.0)
        self.optimizer.step()
"""
    assert only(net() + trainer, "GG301") == []
    unused = net(extra_init="        self.aux_head = nn.Linear(8, 2)\n") + trainer
    assert len(only(unused, "GG301")) == 1


def test_several_models_share_one_parameter_list_gan():
    """Issue 11 shape 7: a reset over both models' parameters after only one took part."""
    code = """
    import torch
    from torch import nn

    G = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    D = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
    params = list(G.parameters()) + list(D.parameters())


    def reset_grad():
        for p in params:
            p.grad.data.zero_()


    for real in loader:
        d_loss = D(real).mean()
        d_loss.backward()
        reset_grad()
    """
    (finding,) = only(code, "GG301")
    assert finding.span.start.line + 1 == 12
    assert finding.related[0].message == "one list holds the parameters of several models"


def test_one_model_list_after_backward_is_not_a_gan_shape():
    code = """
    import torch
    from torch import nn

    G = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    params = list(G.parameters())
    for real in loader:
        G(real).mean().backward()
        for p in params:
            p.grad.data.zero_()
    """
    assert only(code, "GG301") == []


def test_zeroing_parameters_before_any_backward():
    code = """
    import torch
    from torch import nn

    model = nn.Linear(4, 2)
    for x in loader:
        for p in model.parameters():
            p.grad.zero_()
        model(x).sum().backward()
    """
    (finding,) = only(code, "GG301")
    assert finding.span.start.line + 1 == 8
    assert "until a backward() reaches" in finding.message
    assert finding.related[0].span.start.line + 1 == 5


def test_parameters_read_after_a_call_that_may_train_are_left_alone():
    code = """
    import torch
    from torch import nn

    model = nn.Linear(4, 2)
    fit(model, loader)
    for p in model.parameters():
        print(p.grad.norm())
    """
    assert only(code, "GG301") == []


# -- issue 11, shape 8: `.grad` of a tensor a same-file function made without grad --------


def test_grad_of_a_tensor_from_a_same_file_function():
    code = """
    import numpy as np
    import torch


    def prepare(img, device):
        return torch.from_numpy(np.asarray(img)).float().to(device)


    def attack(img, label, device):
        model = torch.nn.Linear(4, 2).to(device)
        inputs = prepare(img, device)
        output = model(inputs)
        loss = torch.nn.functional.cross_entropy(output, label)
        loss.backward()
        inputs.grad.zero_()
    """
    (finding,) = only(code, "GG301")
    assert finding.span.start.line + 1 == 16
    assert "does not require grad" in finding.message


def test_grad_of_a_tensor_from_a_function_that_asks_for_grad_is_left_alone():
    code = """
    import torch


    def prepare(shape):
        return torch.zeros(shape, requires_grad=True)


    def attack(model, shape):
        inputs = prepare(shape)
        model(inputs).sum().backward()
        inputs.grad.zero_()
    """
    assert only(code, "GG301") == []


def test_a_frozen_teacher_is_no_reason_for_the_student():
    code = """
    import torch
    from torch import nn

    teacher = nn.Linear(4, 2)
    teacher.requires_grad_(False)
    student = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    for x in loader:
        loss = (student(x) - teacher(x)).pow(2).mean()
        loss.backward()
        for p in student.parameters():
            p.grad.data.clamp_(-1, 1)
        for p in teacher.parameters():
            p.grad.data.clamp_(-1, 1)
    """
    (finding,) = only(code, "GG301")
    assert finding.span.start.line + 1 == 14
    assert finding.related[0].span.start.line + 1 == 6


FROZEN_BIAS = """
import torch
from torch import nn


class FrozenBias(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 50)
        self.fc.bias.requires_grad = False

    def forward(self, x):
        return self.fc(x)


def check_grads(model):
    for p in model.parameters():
        print(p.grad.norm())
"""


def test_a_layer_frozen_in_one_class_is_no_reason_for_an_unknown_model():
    assert only(FROZEN_BIAS, "GG301") == []


def test_a_layer_frozen_in_the_class_of_the_model():
    (finding,) = only(FROZEN_BIAS + "\n\ncheck_grads(FrozenBias())\n", "GG301")
    assert finding.span.start.line + 1 == 18
    assert finding.related[0].span.start.line + 1 == 10
