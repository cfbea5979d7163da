"""GG301, issue 11: shape 11 and the next ring (`.grad` as an operand, custom optimizers,
a backbone frozen in `__init__`), each with negatives of the same shape."""

import textwrap

import pytest

from helpers import assert_all_fixes_repair, findings, only

# -- shape 11: a parameter of another same-file class, read through a loop over modules --

SUPERNET = """
import random

import torch
from torch import nn


class MixedOp(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.alpha = nn.Parameter(1e-3 * torch.randn(3))
        self.candidates = nn.ModuleList(
            [nn.Conv2d(channels, channels, 3, padding=1), nn.Identity(), nn.AvgPool2d(3, 1, 1)]
        )

    def forward(self, x):
{forward}


class SuperNet(nn.Module):
    def __init__(self, channels, depth):
        super().__init__()
        self.ops = nn.ModuleList([MixedOp(channels) for _ in range(depth)])
        self.classifier = nn.Linear(channels, 10)

    def forward(self, x):
        for op in self.ops:
            x = op(x)
        return self.classifier(x.mean((2, 3)))

    def arch_grad_norm(self):
        total = 0.0
        for op in self.ops:
            total += op.alpha.grad.data.norm() ** 2
        return total ** 0.5
"""
SAMPLED = """\
        if self.training and random.random() < 0.5:
            index = random.randrange(len(self.candidates))
            return self.candidates[index](x)
        weights = torch.softmax(self.alpha, dim=0)
        return sum(w * op(x) for w, op in zip(weights, self.candidates))"""
IN_ONE_ARM = """\
        if self.training:
            weights = torch.softmax(self.alpha, dim=0)
            return sum(w * op(x) for w, op in zip(weights, self.candidates))
        return self.candidates[0](x)"""
NEVER = """\
        return self.candidates[0](x)"""
ALWAYS = """\
        weights = torch.softmax(self.alpha, dim=0)
        return sum(w * op(x) for w, op in zip(weights, self.candidates))"""
ALWAYS_THROUGH_A_METHOD = """\
        return sum(w * op(x) for w, op in zip(self.weights(), self.candidates))

    def weights(self):
        return torch.softmax(self.alpha, dim=0)"""


@pytest.mark.parametrize(
    ("forward", "reason", "related_line"),
    [
        (SAMPLED, "`MixedOp.forward()` uses `self.alpha` only on some paths", 17),
        (IN_ONE_ARM, "`MixedOp.forward()` uses `self.alpha` only on some paths", 17),
        (NEVER, "`MixedOp.forward()` never uses `self.alpha`", 11),
    ],
)
def test_a_parameter_a_sampled_path_skips(forward, reason, related_line):
    (finding,) = only(SUPERNET.format(forward=forward), "GG301")
    assert (
        finding.span.start.line + 1
        == SUPERNET.format(forward=forward).count(
            "\n", 0, SUPERNET.format(forward=forward).index("op.alpha.grad")
        )
        + 1
    )
    assert "`op.alpha.grad` is None whenever `op.alpha` gets no gradient" in finding.message
    assert "AttributeError: 'NoneType' object has no attribute 'data'" in finding.message
    (related,) = finding.related
    assert related.message == reason
    assert related.span.start.line + 1 == related_line


@pytest.mark.parametrize("forward", [ALWAYS, ALWAYS_THROUGH_A_METHOD])
def test_a_parameter_every_path_uses_is_left_alone(forward):
    assert only(SUPERNET.format(forward=forward), "GG301") == []


def test_a_guarded_read_of_a_sampled_parameter_is_left_alone():
    code = SUPERNET.format(forward=SAMPLED).replace(
        "            total += op.alpha.grad.data.norm() ** 2",
        "            if op.alpha.grad is not None:\n"
        "                total += op.alpha.grad.data.norm() ** 2",
    )
    assert only(code, "GG301") == []


def test_alphas_the_parent_network_computes_with_are_left_alone():
    # DARTS keeps the mixing in the parent: `op.alpha` is used, just not by MixedOp.
    code = SUPERNET.format(forward=NEVER).replace(
        "            x = op(x)",
        "            x = sum(w * c(x) for w, c in zip(op.alpha.softmax(0), op.candidates))",
    )
    assert only(code, "GG301") == []


def test_a_forward_that_hands_self_to_a_helper_is_left_alone():
    code = SUPERNET.format(forward="        return mix(self, x)")
    assert only(code, "GG301") == []


def test_a_parameter_created_without_requires_grad():
    code = SUPERNET.format(forward=ALWAYS).replace(
        "nn.Parameter(1e-3 * torch.randn(3))", "nn.Parameter(torch.ones(3), requires_grad=False)"
    )
    (finding,) = only(code, "GG301")
    assert finding.related[0].message == "`self.alpha` does not require grad"


# -- the next ring: `.grad` as an operand, over a model holding a frozen mask -------------

MASKED = """
import torch
from torch import nn


class MaskedLinear(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.linear = nn.Linear(features, features)
        self.mask = nn.Parameter(torch.ones(features, features), requires_grad={flag})

    def forward(self, x):
        return nn.functional.linear(x, self.linear.weight * self.mask, self.linear.bias)


def train_one_epoch(model, loader, lr=0.01):
    for x, y in loader:
        loss = nn.functional.mse_loss(model(x), y)
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for param in model.parameters():
                {update}


model = MaskedLinear(8)
train_one_epoch(model, loader)
"""


@pytest.mark.parametrize(
    ("update", "error"),
    [
        ("param -= lr * param.grad", "TypeError: unsupported operand type(s) for *"),
        (
            "param -= 0.01 * param.grad",
            "TypeError: unsupported operand type(s) for *: 'float' and 'NoneType'",
        ),
        ("param.sub_(param.grad * lr)", "TypeError: unsupported operand type(s) for *"),
        (
            "param -= 0.01 * param.grad ** 2",
            "TypeError: unsupported operand type(s) for ** or pow(): 'NoneType' and 'int'",
        ),
        ("param.data -= lr * param.grad.data", "no attribute 'data'"),
    ],
)
def test_manual_sgd_over_a_model_with_a_frozen_mask(update, error):
    code = MASKED.format(flag="False", update=update)
    (finding,) = only(code, "GG301")
    assert error in finding.message
    assert finding.related[0].message == "parameters are frozen here"
    assert finding.related[0].span.start.line + 1 == 10


@pytest.mark.parametrize("update", ["param -= lr * param.grad", "param.grad *= 0.5"])
def test_manual_sgd_over_a_model_without_a_frozen_parameter_is_left_alone(update):
    assert only(MASKED.format(flag="True", update=update), "GG301") == []


def test_manual_sgd_guarded_is_left_alone():
    update = "if param.grad is not None:\n                    param -= lr * param.grad"
    assert only(MASKED.format(flag="False", update=update), "GG301") == []


def test_the_operand_span_covers_the_arithmetic():
    code = MASKED.format(flag="False", update="param -= lr * param.grad")
    (finding,) = only(code, "GG301")
    line = code.splitlines()[finding.span.start.line]
    assert line[finding.span.start.column : finding.span.end.column] == "lr * param.grad"


# -- `param.grad *= k` over a model whose backbone is frozen in `__init__` ------------------

FINETUNE = """
import torch
from torch import nn


class FineTuner(nn.Module):
    def __init__(self, backbone, classes):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(512, classes)
{freeze}
    def forward(self, x):
        return self.head(self.backbone(x))


class Trainer:
    def __init__(self, backbone, classes, lr):
        self.model = FineTuner(backbone, classes)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=lr)

    def train_step(self, x, y, accumulation=4):
        loss = nn.functional.cross_entropy(self.model(x), y)
        loss.backward()
        for param in self.model.parameters():
            param.grad /= accumulation
        self.optimizer.step()
        self.optimizer.zero_grad()


trainer = Trainer(nn.Sequential(nn.Flatten(), nn.Linear(784, 512)), 10, 0.1)
"""
FROZEN_BACKBONE = """\
        for p in self.backbone.parameters():
            p.requires_grad = False
"""


def test_grad_scaled_in_place_over_a_model_whose_backbone_is_frozen():
    (finding,) = only(FINETUNE.format(freeze=FROZEN_BACKBONE), "GG301")
    assert "TypeError: unsupported operand type(s) for /=" in finding.message
    assert finding.related[0].message == "parameters are frozen here"
    line = FINETUNE.format(freeze=FROZEN_BACKBONE).splitlines()[finding.span.start.line]
    assert line.strip() == "param.grad /= accumulation"


def test_grad_scaled_in_place_with_nothing_frozen_is_left_alone():
    assert only(FINETUNE.format(freeze=""), "GG301") == []


def test_in_place_scaling_fix_wraps_and_repairs():
    code = FINETUNE.format(freeze=FROZEN_BACKBONE)
    (fixed,) = assert_all_fixes_repair(code, "GG301")
    assert "    if param.grad is not None:\n                param.grad /= accumulation\n" in fixed


# -- a custom Optimizer subclass reading `p.grad.data` for every parameter ---------------

CUSTOM_OPTIMIZER = """
import torch
from torch import nn


class SignSGD(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3):
        super().__init__(params, dict(lr=lr))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
{body}
        return None


model = nn.Sequential(nn.Embedding(100, 16), nn.Flatten(), nn.Linear(16 * 8, 2))
{freeze}
optimizer = SignSGD({params}, lr=0.01)
for tokens, labels in loader:
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(tokens), labels).backward()
    optimizer.step()
"""
STEP = """\
                d_p = p.grad.data
                p.add_(d_p.sign(), alpha=-group["lr"])"""
GUARDED_STEP = """\
                if p.grad is None:
                    continue
                p.add_(p.grad.data.sign(), alpha=-group["lr"])"""


def test_custom_optimizer_reading_every_grad_while_a_layer_is_frozen():
    code = CUSTOM_OPTIMIZER.format(
        body=STEP, freeze="model[0].requires_grad_(False)", params="model.parameters()"
    )
    (finding,) = only(code, "GG301")
    assert "`p.grad` is None for every parameter that got no gradient" in finding.message
    assert "no attribute 'data'" in finding.message
    assert finding.related[0].span.start.line + 1 == 20


@pytest.mark.parametrize(
    ("body", "freeze", "params"),
    [
        (GUARDED_STEP, "model[0].requires_grad_(False)", "model.parameters()"),
        (STEP, "", "model.parameters()"),
        (STEP, "model[0].requires_grad_(False)", "params_from_config()"),
    ],
)
def test_custom_optimizers_left_alone(body, freeze, params):
    code = CUSTOM_OPTIMIZER.format(body=body, freeze=freeze, params=params)
    assert only(code, "GG301") == []


@pytest.mark.parametrize(
    "params",
    [
        "[p for p in model.parameters() if p.requires_grad]",
        "filter(lambda p: p.requires_grad, model.parameters())",
    ],
)
def test_custom_optimizer_given_only_trainable_parameters_is_left_alone(params):
    freeze = "model[0].requires_grad_(False)"
    code = CUSTOM_OPTIMIZER.format(body=STEP, freeze=freeze, params=params)
    assert only(code, "GG301") == []


def test_other_rules_see_nothing_new_in_these_shapes():
    code = textwrap.dedent(MASKED.format(flag="False", update="param -= lr * param.grad"))
    assert [f.code for f in findings(code) if f.code == "GG302"] == []


# -- `for group in optimizer.param_groups: for p in group["params"]` outside the class -----

CLIP_GROUPS = """
import torch
from torch import nn

model = nn.Sequential(nn.Embedding(100, 16), nn.Flatten(), nn.Linear(16 * 8, 2))
{freeze}
optimizer = torch.optim.AdamW({params}, lr=1e-3)


def clip_per_group(optimizer, max_value):
    for group in optimizer.param_groups:
        for p in group["params"]:
            p.grad.data.clamp_(-max_value, max_value)


for tokens, labels in loader:
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(tokens), labels).backward()
    for group in optimizer.param_groups:
        for p in group["params"]:
            p.grad.data.clamp_(-1.0, 1.0)
    optimizer.step()
"""


def test_clipping_over_param_groups_of_an_optimizer_holding_a_frozen_layer():
    code = CLIP_GROUPS.format(freeze="model[0].requires_grad_(False)", params="model.parameters()")
    # The loop at module level; the helper's `optimizer` is a parameter the file passes
    # nothing for, so it stays silent.
    (finding,) = only(code, "GG301")
    assert code.splitlines()[finding.span.start.line].strip().startswith("p.grad.data.clamp_(-1.0")
    assert finding.related[0].message == "parameters are frozen here"


@pytest.mark.parametrize(
    ("freeze", "params"),
    [
        ("", "model.parameters()"),
        (
            "model[0].requires_grad_(False)",
            "[p for p in model.parameters() if p.requires_grad]",
        ),
    ],
)
def test_clipping_over_param_groups_left_alone(freeze, params):
    assert only(CLIP_GROUPS.format(freeze=freeze, params=params), "GG301") == []


# -- the parent's forward samples one op: the others' `alpha` get no gradient -------------

SAMPLING_CELL = """
import random

import torch
from torch import nn


class MixedOp(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(1))
        self.op = nn.Linear(dim, dim)

    def forward(self, x):
        return self.op(x) * self.alpha.sigmoid()


class Cell(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.ops = nn.ModuleList(MixedOp(dim) for _ in range(4))

    def forward(self, x):
{forward}

    def alpha_grads(self):
        return [op.alpha.grad.data.clone() for op in self.ops]
"""


@pytest.mark.parametrize(
    "forward",
    [
        "        return random.choice(self.ops)(x)",
        "        return self.ops[random.randrange(len(self.ops))](x)",
    ],
)
def test_a_forward_that_samples_one_op(forward):
    (finding,) = only(SAMPLING_CELL.format(forward=forward), "GG301")
    assert finding.related[0].message == "`Cell.forward()` runs only some of `self.ops`"


@pytest.mark.parametrize(
    "forward",
    [
        "        for op in self.ops:\n            x = op(x)\n        return x",
        "        return sum(op(x) for op in self.ops)",
        "        return self.ops[0](x) + sum(op(x) for op in self.ops[1:])",
    ],
)
def test_a_forward_that_runs_every_op_is_left_alone(forward):
    assert only(SAMPLING_CELL.format(forward=forward), "GG301") == []
