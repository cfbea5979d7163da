"""GG304 through the program: flags and init functions that arrive through parameters,
config dicts, registries, dataclass fields, ``functools.partial`` and ``**kwargs``
(issue 11, shape 10 and the next ring)."""

import pytest

from helpers import assert_all_fixes_repair, lines_of, only

# Shape 10: the init function from a registry, the flag from the caller.
REGISTRY_FACTORY = """
import torch
from torch import nn

INITS = {{"zeros": nn.init.zeros_, "normal": nn.init.normal_}}


def make_head(in_features, n_classes, use_bias=True, init_name="zeros"):
    fc = nn.Linear(in_features, n_classes, bias=use_bias)
    init = INITS[init_name]
    init(fc.bias)
    return fc


model = nn.Sequential(nn.Flatten(), make_head(784, 10, use_bias={flag}))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
"""


def test_shape_10_registry_init_on_a_bias_the_caller_switches_off():
    (finding,) = only(REGISTRY_FACTORY.format(flag="False"), "GG304")
    assert finding.span.start.line == 10
    assert "`fc` is built on line 9 with `bias=False` (from line 15)" in finding.message
    assert "'NoneType' object has no attribute 'zero_'" in finding.message
    assert [r.span.start.line for r in finding.related] == [8, 14]
    (fixed,) = assert_all_fixes_repair(REGISTRY_FACTORY.format(flag="False"), "GG304")
    assert "    if fc.bias is not None:\n        init(fc.bias)\n" in fixed


def test_shape_10_is_silent_when_every_caller_keeps_the_bias():
    assert only(REGISTRY_FACTORY.format(flag="True"), "GG304") == []


def test_shape_10_mixed_callers_are_reported_in_the_factory():
    code = REGISTRY_FACTORY.format(flag="False") + "aux = make_head(784, 2)\n"
    (finding,) = only(code, "GG304")
    assert "when it gets the value from line 15" in finding.message
    assert "`fc.bias` is None then" in finding.message


def test_registry_of_unknown_functions_is_silent():
    code = """
    from torch import nn
    from mylib import my_init

    INITS = {"zeros": nn.init.zeros_, "custom": my_init}

    def init_head(fc, name):
        INITS[name](fc.bias)

    init_head(nn.Linear(4, 2, bias=False), "custom")
    """
    assert only(code, "GG304") == []


# A constructor parameter that another class passes as False.
BLOCK = """
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, dim, bias=True):
        super().__init__()
        self.proj = nn.Linear(dim, dim, bias=bias)
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.xavier_uniform_(self.proj.weight)
        {init}


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([Block(64, bias={flag}) for _ in range(4)])
"""


def test_constructor_flag_passed_false_by_another_class():
    code = BLOCK.format(init="nn.init.zeros_(self.proj.bias)", flag="False")
    (finding,) = only(code, "GG304")
    assert finding.span.start.line == 13
    assert "`self.proj` is built on line 9 with `bias=False` (from line 20)" in finding.message


@pytest.mark.parametrize(
    ("init", "flag"),
    [
        ("nn.init.zeros_(self.proj.bias)", "True"),
        ("if self.proj.bias is not None:\n            nn.init.zeros_(self.proj.bias)", "False"),
    ],
)
def test_constructor_flag_kept_or_guarded(init, flag):
    assert only(BLOCK.format(init=init, flag=flag), "GG304") == []


def test_a_test_of_the_flag_guards_the_call():
    code = """
    from torch import nn

    class Block(nn.Module):
        def __init__(self, dim, bias=True):
            super().__init__()
            self.use_bias = bias
            self.proj = nn.Linear(dim, dim, bias=bias)
            nn.init.normal_(self.proj.weight, std=0.02)
            if bias:
                nn.init.zeros_(self.proj.bias)

    block = Block(8, bias=False)
    """
    assert only(code, "GG304") == []


def test_a_factory_called_with_both_flags_is_silent_where_the_bias_is_kept():
    code = """
    from torch import nn

    def linear(i, o, bias):
        return nn.Linear(i, o, bias=bias)

    head = linear(8, 2, False)
    tail = linear(8, 2, True)
    nn.init.zeros_(tail.bias)
    """
    assert only(code, "GG304") == []


def test_a_factory_only_ever_called_without_bias():
    code = """
    from torch import nn

    def conv_bn(c_in, c_out, bias=False):
        return nn.Conv2d(c_in, c_out, 3, padding=1, bias=bias)

    stem = conv_bn(3, 32)
    nn.init.constant_(stem.bias, 0.0)
    """
    (finding,) = only(code, "GG304")
    assert "`stem` is built on line 5 with `bias=False` (from line 4)" in finding.message
    assert "'fill_'" in finding.message


# `affine=False` through a config dict, a registry lookup and `**kwargs`.
NORM_CONFIG = """
from torch import nn

NORM_CFG = {{"type": "bn", "affine": {affine}}}
NORMS = {{"bn": nn.BatchNorm2d, "in": nn.InstanceNorm2d}}


def build_norm(channels, cfg, **kwargs):
    layer = NORMS[cfg["type"]]
    return layer(channels, affine=cfg["affine"], **kwargs)


norm = build_norm(64, NORM_CFG)
nn.init.ones_(norm.weight)
"""


def test_affine_false_through_a_config_dict_and_a_registry():
    (finding,) = only(NORM_CONFIG.format(affine="False"), "GG304")
    assert finding.span.start.line == 13
    assert "`norm` is built on line 10 with `affine=False` (from line 4)" in finding.message
    assert "'fill_'" in finding.message


def test_affine_true_through_a_config_dict_is_silent():
    assert only(NORM_CONFIG.format(affine="True"), "GG304") == []


KWARGS = """
from torch import nn


def make_norm(channels, **norm_kwargs):
    return nn.BatchNorm2d(channels, **norm_kwargs)


class Stem(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = make_norm(32, {passed})
        nn.init.constant_(self.bn.bias, 0)
"""


@pytest.mark.parametrize(
    ("passed", "lines"),
    [
        ("affine=False", [13]),
        ("**{'affine': False, 'momentum': 0.01}", [13]),
        ("momentum=0.01", []),
        ("affine=True", []),
        ("**options", []),
    ],
)
def test_affine_through_kwargs(passed, lines):
    assert lines_of(KWARGS.format(passed=passed), "GG304") == lines


# `functools.partial(nn.BatchNorm2d, affine=False)` in a config or a dataclass field.
DATACLASS = """
import functools
from dataclasses import dataclass

from torch import nn


@dataclass
class ModelConfig:
    width: int = 64
    norm_layer: object = {default}


class Net(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.conv = nn.Conv2d(3, cfg.width, 3, bias=False)
        self.bn = cfg.norm_layer(cfg.width)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)


net = Net({config})
"""


@pytest.mark.parametrize(
    ("default", "config", "lines"),
    [
        ("functools.partial(nn.BatchNorm2d, affine=False)", "ModelConfig()", [20, 21]),
        (
            "nn.BatchNorm2d",
            "ModelConfig(norm_layer=functools.partial(nn.BatchNorm2d, affine=False))",
            [20, 21],
        ),
        ("nn.BatchNorm2d", "ModelConfig()", []),
        ("functools.partial(nn.BatchNorm2d, affine=True)", "ModelConfig()", []),
        ("functools.partial(nn.BatchNorm2d, momentum=0.01)", "ModelConfig()", []),
    ],
)
def test_partial_norm_layer_in_a_dataclass_field(default, config, lines):
    code = DATACLASS.format(default=default, config=config)
    found = only(code, "GG304")
    assert [f.span.start.line for f in found] == lines
    for finding in found:
        assert "this file builds `BatchNorm2d` with `affine=False` (line 18)" in finding.message


def test_partial_in_a_config_dict_built_directly():
    code = """
    import functools
    from torch import nn

    CONFIG = {"norm": functools.partial(nn.BatchNorm2d, affine=False), "width": 32}

    norm_layer = CONFIG["norm"]
    bn = norm_layer(CONFIG["width"])
    bn.weight.data.fill_(1.0)
    """
    (finding,) = only(code, "GG304")
    assert "`bn` is built on line 8 with `affine=False` (from line 5)" in finding.message
    assert "'data'" in finding.message


def test_a_config_changed_after_it_is_built_is_possibly_false_and_stays_silent_outside():
    code = """
    from torch import nn

    def build(cfg):
        return nn.Linear(8, 8, bias=cfg["bias"])

    cfg = {"bias": False}
    cfg.update(user_overrides)
    layer = build(cfg)
    nn.init.zeros_(layer.bias)
    """
    assert only(code, "GG304") == []


@pytest.mark.parametrize(
    ("build", "flagged"),
    [
        ("nn.LazyLinear(10, False)", True),
        ("nn.LazyConv2d(8, 3, 1, 0, 1, 1, False)", True),
        ("nn.LazyLinear(10, True)", False),
        ("nn.LazyBatchNorm2d(1e-5, 0.1, False)", True),
    ],
)
def test_positional_flags_of_lazy_layers(build, flagged):
    code = f"import torch.nn as nn\nm = {build}\nnn.init.zeros_(m.bias)\n"
    assert bool(only(code, "GG304")) is flagged


def test_odd_configuration_shapes_do_not_raise():
    code = """
    import functools
    from torch import nn

    a = {**a, "bias": False}
    b = dict(*rows, **a)
    INITS = {0: nn.init.zeros_, None: print, **b}
    class C:
        x = C.x
    def f(x, *args, **kwargs):
        return g(x, **kwargs)
    def g(x, **kwargs):
        return f(x, **kwargs)
    layer = nn.Linear(2, 2, bias=f(False)["bias"])
    INITS[0](layer.bias)
    INITS[C.x](layer.bias)
    f()[k](layer.bias)
    functools.partial()(layer.bias)
    functools.partial(**b)(layer.bias)
    (lambda t: t)(layer.bias.zero_())
    norm = functools.partial(nn.BatchNorm2d, 8, False)
    bn = norm()
    bn.bias.zero_()
    cfg = {"bias": False}
    cfg[cfg["bias"]] = cfg
    nn.Linear(2, 2, **cfg).bias.zero_()
    """
    only(code, "GG304")


RESNET = """
from functools import partial

import torch.nn as nn


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, norm_layer=None):
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        self.conv1 = nn.Conv2d(inplanes, planes, 3, padding=1, bias=False)
        self.bn1 = norm_layer(planes)


class ResNet(nn.Module):
    def __init__(self, norm_layer=None):
        super().__init__()
        self.layer1 = BasicBlock(64, 64, norm_layer=norm_layer)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)


model = ResNet({norm})
"""


@pytest.mark.parametrize(
    ("norm", "lines"),
    [
        ("", []),  # torchvision's default norm layer keeps its affine parameters
        ("norm_layer=partial(nn.LayerNorm, eps=1e-6)", []),
        ("norm_layer=partial(nn.BatchNorm2d, affine=False)", [24, 25]),
    ],
)
def test_torchvision_style_norm_layer(norm, lines):
    assert lines_of(RESNET.format(norm=norm), "GG304") == lines
