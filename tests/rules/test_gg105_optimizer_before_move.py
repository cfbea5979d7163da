import pytest

from helpers import apply_fix, assert_all_fixes_repair, lines_of, only

HEAD = """import torch
import torch.nn as nn
import torch.optim as optim

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

device = torch.device("cpu")
"""

CREATED = "model = Net()\noptimizer = optim.SGD(model.parameters(), lr=0.1)\n"

LOOP = """for _ in range(2):
    optimizer.zero_grad()
    optimizer.step()
"""


@pytest.mark.parametrize(
    "move",
    [
        "model.to(device)",
        "model.cuda()",
        "model.double()",
        "model.half()",
        "model.bfloat16()",
        "model = model.to(device)",
        "model.to(device, dtype=torch.float64)",
        "model.fc.cuda()",
    ],
)
def test_flags_moves_after_creation(move):
    code = HEAD + "model = Net()\noptimizer = optim.Adam(model.parameters())\n" + move + "\n" + LOOP
    (finding,) = only(code, "GG105")
    assert finding.severity.value == "information"
    assert finding.span.start.line == 12
    assert "PyTorch keeps the same parameter objects" in finding.message
    assert "is not moved or cast with them" in finding.message
    (related,) = finding.related
    assert related.span.start.line == 11
    assert_all_fixes_repair(code, "GG105")


def test_message_names_the_call_and_optimizer():
    code = HEAD + "model = Net()\noptimizer = optim.Adam(model.parameters())\nmodel.cuda()\n" + LOOP
    (finding,) = only(code, "GG105")
    assert finding.message.startswith(
        "`model.cuda()` runs after `optimizer` was created from the parameters of `model`"
    )


def test_flags_in_function_class_and_other_import_styles():
    code = """
    import torch
    from torch.optim import AdamW as W
    from torch import optim

    def configure(model):
        opt = W(model.parameters(), lr=1e-3)
        model.cuda()
        return opt

    class Trainer:
        def __init__(self, model):
            self.model = model
            self.opt = optim.SGD(self.model.parameters(), lr=0.1)
            self.model.to("cuda")
            self.opt.step()
    """
    assert lines_of(code, "GG105") == [8, 15]


def test_overwrite_flag_makes_it_a_warning_about_lost_identity():
    code = (
        HEAD
        + "torch.__future__.set_overwrite_module_params_on_conversion(True)\n"
        + "model = Net()\noptimizer = optim.SGD(model.parameters(), lr=0.1)\nmodel.double()\n"
        + LOOP
    )
    (finding,) = only(code, "GG105")
    assert finding.severity.value == "warning"
    assert "replaces the parameters" in finding.message


@pytest.mark.parametrize(
    "body",
    [
        # Moved first: the recommended order.
        "model = Net()\nmodel.to(device)\noptimizer = optim.SGD(model.parameters(), lr=0.1)\n",
        "model = Net().to(device)\noptimizer = optim.SGD(model.parameters(), lr=0.1)\n",
        "model = Net()\noptimizer = optim.SGD(model.to(device).parameters(), lr=0.1)\n",
        # Not in the rule's list, or not a module move.
        CREATED + "model.cpu()\nmodel.float()\n",
        CREATED + "x = torch.ones(2).to(device)\n",
        CREATED + "w = model.fc.weight.to(device)\n",
        "other = Net()\n" + CREATED + "other.cuda()\n",
        # A tensor attribute moved: returns a copy, not a module move.
        CREATED + "model.scale = model.scale.to(device)\n",
        # The optimizer is created again after the move.
        "model = Net()\noptimizer = optim.SGD(model.parameters(), lr=0.1)\nmodel.cuda()\n"
        "optimizer = optim.SGD(model.parameters(), lr=0.1)\n",
    ],
)
def test_does_not_flag(body):
    assert only(HEAD + body + LOOP, "GG105") == []


def test_round_trip_to_the_device_the_model_had_at_creation_is_silent():
    # Saving a checkpoint from the CPU and moving back: parameters and state end up
    # where they were when the optimizer was built.
    code = (
        HEAD
        + """model = Net().to(device)
optimizer = optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(2):
    optimizer.zero_grad()
    optimizer.step()
    model.eval().cpu()
    torch.save(model.state_dict(), "ckpt.pt")
    model.to(device).train()
"""
    )
    assert only(code, "GG105") == []
    # A different move than the one made before the creation is still reported.
    assert lines_of(code.replace("model.to(device).train()", "model.half()"), "GG105") == [18]
    # A submodule moved first does not excuse moving the whole model later.
    partial = (
        HEAD
        + "model = Net()\nmodel.fc.to(device)\n"
        + ("optimizer = optim.SGD(model.parameters(), lr=0.1)\nmodel.to(device)\n" + LOOP)
    )
    assert lines_of(partial, "GG105") == [14]


def test_optimizer_attribute_stepped_in_another_method_counts_as_used():
    code = """
    import torch
    from torch import nn

    class Learner:
        def __init__(self, model, device):
            self.model = model
            self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
            self.model = self.model.to(device)

        def step(self, x):
            self.optimizer.zero_grad()
            self.model(x).sum().backward()
            self.optimizer.step()

    class Rebuilt:
        def __init__(self, model, device):
            self.model = model
            self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
            self.model.to(device)
            self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)

        def step(self):
            self.optimizer.step()

    class NeverStepped:
        def __init__(self, model, device):
            self.model = model
            self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
            self.model.to(device)

        def forward(self, x):
            return self.model(x)
    """
    assert lines_of(code, "GG105") == [9]


def test_module_level_optimizer_stepped_by_a_function_called_later():
    code = """
    import torch
    import torch.nn as nn

    model = nn.Linear(4, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.cuda()

    def train_one(x):
        optimizer.zero_grad()
        model(x).sum().backward()
        optimizer.step()

    def main():
        for _ in range(3):
            train_one(torch.randn(2, 4))

    if __name__ == "__main__":
        main()
    """
    assert lines_of(code, "GG105") == [7]


@pytest.mark.parametrize(
    "tail",
    [
        # The function is never called after the move.
        "def train_one():\n    optimizer.step()\n",
        # The function has its own optimizer of that name.
        "def train_one(optimizer):\n    optimizer.step()\ntrain_one(None)\n",
        "def train_one():\n    optimizer = None\n    print(optimizer)\ntrain_one()\n",
    ],
)
def test_module_level_optimizer_not_used_by_later_calls_is_silent(tail):
    code = HEAD + CREATED + "model.cuda()\n" + tail
    assert only(code, "GG105") == []


def test_does_not_flag_when_optimizer_is_unused_after_or_in_another_branch():
    code = HEAD + (
        "model = Net()\n"
        "if resume:\n    optimizer = optim.SGD(model.parameters(), lr=0.1)\n"
        "else:\n    model.cuda()\n"
    )
    assert only(code, "GG105") == []
    code = HEAD + CREATED + "optimizer.step()\nmodel.cuda()\n"
    assert only(code, "GG105") == []


def test_fix_moves_the_move_with_its_comment_above_the_creation_and_its_comment():
    code = HEAD + (
        "model = Net()\n"
        "# SGD with momentum\n"
        "optimizer = optim.SGD(\n    model.parameters(),\n    lr=0.1,\n)\n"
        "print('created')\n"
        "# put the model on the device\n"
        "model.to(\n    device,\n)  # keep identity\n" + LOOP
    )
    (finding,) = only(code, "GG105")
    (fix,) = finding.fixes
    assert fix.title == "Move `.to()` above the optimizer creation (line 13)"
    assert fix.safety.value == "unsafe"
    fixed = apply_fix(code, fix)
    assert fixed == HEAD + (
        "model = Net()\n"
        "# put the model on the device\n"
        "model.to(\n    device,\n)  # keep identity\n"
        "# SGD with momentum\n"
        "optimizer = optim.SGD(\n    model.parameters(),\n    lr=0.1,\n)\n"
        "print('created')\n" + LOOP
    )
    assert_all_fixes_repair(code, "GG105")


def test_fix_moves_a_whole_if_and_keeps_crlf():
    code = (
        "import torch\r\nfrom torch import nn\r\n"
        "model = nn.Linear(2, 2)\r\n"
        "optimizer = torch.optim.Adam(model.parameters())\r\n"
        "if torch.cuda.is_available():\r\n"
        "    model = model.cuda()\r\n"
        "optimizer.step()\r\n"
    )
    (finding,) = only(code, "GG105")
    (fix,) = finding.fixes
    assert fix.title == "Move `model.cuda()` above the optimizer creation (line 4)"
    assert apply_fix(code, fix) == (
        "import torch\r\nfrom torch import nn\r\n"
        "model = nn.Linear(2, 2)\r\n"
        "if torch.cuda.is_available():\r\n"
        "    model = model.cuda()\r\n"
        "optimizer = torch.optim.Adam(model.parameters())\r\n"
        "optimizer.step()\r\n"
    )


@pytest.mark.parametrize(
    "between",
    [
        "print(model)",  # uses the model
        "device = 'cuda'",  # defines what the move reads
        "scheduler = optim.lr_scheduler.StepLR(optimizer, 1)",  # harmless, but still no use
    ],
)
def test_no_fix_across_uses(between):
    code = HEAD + (
        f"model = Net()\noptimizer = optim.SGD(model.parameters(), lr=0.1)\n{between}\n"
        "model.to(device)\n" + LOOP
    )
    (finding,) = only(code, "GG105")
    if between.startswith("scheduler"):
        assert len(finding.fixes) == 1  # nothing there touches the model
        assert_all_fixes_repair(code, "GG105")
    else:
        assert finding.fixes == ()


@pytest.mark.parametrize(
    "move",
    [
        "out = model.cuda()(torch.ones(4))",  # not only a move
        "for _ in range(1):\n    model.cuda()",  # inside a loop
        "x = 1; model.cuda()",  # shares its line
    ],
)
def test_no_fix_for_statements_that_do_more_than_move(move):
    code = (
        HEAD + f"model = Net()\noptimizer = optim.SGD(model.parameters(), lr=0.1)\n{move}\n" + LOOP
    )
    (finding,) = only(code, "GG105")
    assert finding.fixes == ()


# -- issue 11: the live optimizer, and aliases (shapes 3 and 12) ----------------------------


def test_related_location_is_the_optimizer_live_at_the_move():
    code = """
    import torch
    from torch import nn

    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    warmup(model, optimizer)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.cuda()
    for x, y in loader:
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    """
    (finding,) = only(code, "GG105")
    assert finding.span.start.line + 1 == 9
    (related,) = finding.related
    assert related.span.start.line + 1 == 8


def test_trainer_that_rebuilds_its_optimizer_points_at_the_new_one():
    code = """
    import torch


    class Trainer:
        def __init__(self, model):
            self.model = model
            self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.1)

        def fit(self, loader, device):
            self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-3)
            self.model.to(device)
            for x, y in loader:
                self.model(x).sum().backward()
                self.optimizer.step()
    """
    (finding,) = only(code, "GG105")
    assert finding.span.start.line + 1 == 12
    assert finding.related[0].span.start.line + 1 == 11


def test_move_through_an_alias_of_the_model():
    code = """
    import torch
    from torch import nn

    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    net = model
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    alias = model
    alias.cuda()
    for x, y in loader:
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
        optimizer.zero_grad()
    """
    (finding,) = only(code, "GG105")
    assert finding.span.start.line + 1 == 9
    assert "`alias.cuda()`" in finding.message
    assert finding.related[0].message == "`optimizer` is created here from the parameters of `net`"


def test_move_of_another_model_through_a_name_is_left_alone():
    code = """
    import torch
    from torch import nn

    model = nn.Linear(4, 2)
    teacher = nn.Linear(4, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    other = teacher
    other.cuda()
    for x, y in loader:
        nn.functional.mse_loss(model(x), teacher(x)).backward()
        optimizer.step()
        optimizer.zero_grad()
    """
    assert only(code, "GG105") == []


def test_move_before_the_optimizer_is_built_again_is_left_alone():
    code = """
    import torch
    from torch import nn

    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.cuda()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in loader:
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
        optimizer.zero_grad()
    """
    assert only(code, "GG105") == []
