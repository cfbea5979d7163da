"""GG101's next-ring shapes of issue 11: ``chain(*model.parameters())``, models that keep
their weights as buffers, a module handed to an optimizer wrapper. Each positive case is
also run under real torch: it raises what the message says, and the fixed code runs."""

import textwrap

import pytest

from gradguard.findings import FixSafety, Severity
from helpers import apply_fix, assert_all_fixes_repair, only


def _line(code: str, text: str) -> int:
    """The 1-based line of the first line of ``code`` holding ``text``."""
    return next(i for i, line in enumerate(textwrap.dedent(code).splitlines(), 1) if text in line)


def _raises(code: str, error: type[Exception], text: str, call: str = "") -> None:
    torch = pytest.importorskip("torch")
    del torch
    namespace: dict = {}
    with pytest.raises(error, match=text):
        exec(compile(textwrap.dedent(code) + call, "<case>", "exec"), namespace)


def _runs(code: str, call: str = "") -> None:
    pytest.importorskip("torch")
    exec(compile(textwrap.dedent(code) + call, "<case>", "exec"), {})


# -- itertools.chain(*model.parameters(), w) -------------------------------------------

CHAIN_FACTORY = """
import itertools

import torch
from torch import nn


class Policy(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 3)

    def forward(self, x):
        return self.body(x)


def make_optimizer(net, lr):
    log_alpha = nn.Parameter(torch.zeros(2))
    return torch.optim.Adam(itertools.chain(*net.parameters(), log_alpha), lr=lr)
"""


def test_star_unpacked_parameters_in_chain_raise_non_leaf_and_the_fix_passes_them():
    (finding,) = only(CHAIN_FACTORY, "GG101")
    assert finding.severity is Severity.ERROR
    assert finding.span.start.line + 1 == _line(CHAIN_FACTORY, "torch.optim.Adam")
    assert "yields its rows" in finding.message
    assert "ValueError: can't optimize a non-leaf Tensor" in finding.message
    (fix,) = finding.fixes
    assert fix.safety is FixSafety.SAFE
    (fixed,) = assert_all_fixes_repair(CHAIN_FACTORY, "GG101")
    assert "itertools.chain(net.parameters(), [log_alpha])" in fixed
    call = "\nmake_optimizer(Policy(), 0.1)\n"
    _raises(CHAIN_FACTORY, ValueError, "can't optimize a non-leaf Tensor", call)
    _runs(fixed, call)


def test_star_chain_next_to_a_list_of_parameters_keeps_the_list():
    code = """
    import itertools

    import torch
    from torch import nn

    net = nn.Linear(4, 3)
    W = nn.Parameter(torch.randn(3, 3))
    optimizer = torch.optim.Adam(itertools.chain(*net.parameters(), [W]), lr=1e-3)
    """
    (fixed,) = assert_all_fixes_repair(code, "GG101")
    assert "itertools.chain(net.parameters(), [W])" in fixed
    _raises(code, ValueError, "can't optimize a non-leaf Tensor")
    _runs(fixed)


def test_star_chain_held_in_a_name_by_a_trainer_and_from_iterable():
    code = """
    import itertools

    import torch
    from torch import nn


    class Trainer:
        def __init__(self, cfg):
            self.model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
            params = itertools.chain(*self.model.parameters())
            self.optimizer = torch.optim.SGD(params, lr=cfg["lr"])
            self.other = torch.optim.SGD(
                itertools.chain.from_iterable(self.model.parameters()), lr=cfg["lr"]
            )
    """
    found = only(code, "GG101")
    assert [f.span.start.line + 1 for f in found] == [12, 13]
    assert all("non-leaf" in f.message for f in found)
    _raises(code, ValueError, "can't optimize a non-leaf Tensor", '\nTrainer({"lr": 0.1})\n')


@pytest.mark.parametrize(
    "params",
    [
        "itertools.chain(net.parameters(), [log_alpha])",
        "itertools.chain(*[net.parameters(), [log_alpha]])",
        "[*net.parameters(), log_alpha]",
        "itertools.chain(*groups)",
    ],
)
def test_chains_of_whole_parameters_are_left_alone(params):
    code = f"""
    import itertools

    import torch
    from torch import nn


    def make_optimizer(net, groups, lr):
        log_alpha = nn.Parameter(torch.zeros(2))
        return torch.optim.Adam({params}, lr=lr)
    """
    assert only(code, "GG101") == []
    if "groups" not in params:
        _runs(code, "\nmake_optimizer(nn.Linear(4, 3), [], 0.1)\n")


# -- layers that keep their weights with register_buffer --------------------------------

BUFFER_MODEL = """
import torch
from torch import nn


class FixedScale(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.features = features
        self.register_buffer("weight", torch.ones(features))

    def forward(self, x):
        return x * self.weight


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale1 = FixedScale(16)
        self.act = nn.ReLU()
        self.scale2 = FixedScale(16)

    def forward(self, x):
        return self.scale2(self.act(self.scale1(x)))
"""


def test_a_model_whose_layers_keep_weights_as_buffers_has_no_parameters():
    code = (
        BUFFER_MODEL
        + """

def build_optimizer(config):
    model = Net()
    return model, torch.optim.Adam(model.parameters(), lr=config["lr"])
"""
    )
    (finding,) = only(code, "GG101")
    assert finding.span.start.line + 1 == _line(code, "torch.optim.Adam(model.parameters()")
    assert "`Net` keeps its weights in buffers" in finding.message
    assert "ValueError: optimizer got an empty parameter list" in finding.message
    (related,) = finding.related
    assert related.span.start.line + 1 == _line(code, "register_buffer")
    call = '\nbuild_optimizer({"lr": 0.1})\n'
    _raises(code, ValueError, "optimizer got an empty parameter list", call)


def test_a_trainer_building_the_optimizer_of_a_buffer_only_layer():
    code = (
        BUFFER_MODEL
        + """

class Trainer:
    def __init__(self, lr):
        self.model = FixedScale(8)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=lr)
"""
    )
    (finding,) = only(code, "GG101")
    assert "`FixedScale` keeps its weights in buffers" in finding.message
    _raises(code, ValueError, "optimizer got an empty parameter list", "\nTrainer(0.1)\n")


@pytest.mark.parametrize(
    ("change", "usage"),
    [
        # A real layer next to the buffer layers: it has parameters.
        ("self.act = nn.ReLU()", "self.act = nn.Linear(16, 16)"),
        # A parameter next to the buffer.
        ("self.features = features", "self.gain = nn.Parameter(torch.ones(features))"),
        # A field the file does not show (what ``cfg`` holds is unknown).
        ("self.act = nn.ReLU()", "self.act = cfg_layer"),
        # PReLU has a parameter.
        ("self.act = nn.ReLU()", "self.act = nn.PReLU()"),
        # Something else may register parameters on it.
        ("self.features = features", "register_extra(self)"),
    ],
)
def test_models_with_parameters_or_unknown_parts_are_left_alone(change, usage):
    code = (
        BUFFER_MODEL.replace(change, usage)
        + """

def build_optimizer(config):
    model = Net()
    return torch.optim.Adam(model.parameters(), lr=config["lr"])
"""
    )
    assert only(code, "GG101") == []


def test_a_buffer_model_handed_to_a_call_that_may_add_parameters_is_left_alone():
    code = (
        BUFFER_MODEL
        + """

def build_optimizer(config, setup):
    model = Net()
    setup(model)
    return torch.optim.Adam(model.parameters(), lr=config["lr"])
"""
    )
    assert only(code, "GG101") == []


def test_a_buffer_layer_with_a_same_file_mixin_is_left_alone():
    code = """
    import torch
    from torch import nn


    class Base(nn.Module):
        pass


    class WithGain:
        def add_gain(self):
            self.gain = nn.Parameter(torch.ones(1))


    class FixedScale(Base, WithGain):
        def __init__(self):
            super().__init__()
            self.register_buffer("weight", torch.ones(4))
            self.add_gain()


    optimizer = torch.optim.SGD(FixedScale().parameters(), lr=0.1)
    """
    assert only(code, "GG101") == []


def test_a_buffer_layer_with_an_imported_base_class_is_left_alone():
    code = """
    import torch
    from mylib import Base


    class FixedScale(Base):
        def __init__(self):
            super().__init__()
            self.register_buffer("weight", torch.ones(4))


    optimizer = torch.optim.SGD(FixedScale().parameters(), lr=0.1)
    """
    assert only(code, "GG101") == []


# -- a module passed as parameters in one branch of an optimizer wrapper ---------------

WRAPPER = """
import torch
from torch import nn, optim


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x)


class OptimizerWrapper:
    def __init__(self, model, name, lr=0.1):
        if name == "sgd":
            self.optimizer = optim.SGD(model, lr=lr)
        else:
            self.optimizer = optim.Adam(model.parameters(), lr=lr)

    def step(self):
        self.optimizer.step()


class Trainer:
    def __init__(self, config):
        self.model = Net()
        self.wrapper = OptimizerWrapper(self.model, config["optimizer"])
"""


def test_a_module_passed_to_an_optimizer_wrapper_branch():
    (finding,) = only(WRAPPER, "GG101")
    assert finding.span.start.line + 1 == _line(WRAPPER, "optim.SGD(model")
    construction = _line(WRAPPER, "OptimizerWrapper(self.model")
    assert f"every call in this file passes a module (line {construction})" in finding.message
    assert "TypeError: 'Net' object is not iterable" in finding.message
    (related,) = finding.related
    assert related.span.start.line + 1 == construction
    (fix,) = finding.fixes
    assert fix.safety is FixSafety.UNSAFE  # other modules may pass parameters
    fixed = apply_fix(WRAPPER, fix)
    assert "optim.SGD(model.parameters(), lr=lr)" in fixed
    assert_all_fixes_repair(WRAPPER, "GG101")
    call = '\nTrainer({"optimizer": "sgd"})\n'
    _raises(WRAPPER, TypeError, "'Net' object is not iterable", call)
    _runs(fixed, call)


def test_a_factory_function_given_a_layer():
    code = """
    import torch
    from torch import nn


    def make_optimizer(model, lr):
        return torch.optim.SGD(model, lr=lr)


    def main():
        net = nn.Linear(4, 2)
        optimizer = make_optimizer(net, 0.1)
    """
    (finding,) = only(code, "GG101")
    assert "TypeError: 'Linear' object is not iterable" in finding.message
    _raises(code, TypeError, "'Linear' object is not iterable", "\nmain()\n")


@pytest.mark.parametrize(
    "construction",
    [
        # The wrapper is also given parameters: the branch may be right for those.
        "OptimizerWrapper(self.model, 'sgd')\n"
        "        self.other = OptimizerWrapper(self.model.parameters(), 'sgd')",
        # What the caller passes is unknown.
        "OptimizerWrapper(config['model'], 'sgd')",
        # Parameters, not the module.
        "OptimizerWrapper(self.model.parameters(), config['optimizer'])",
    ],
)
def test_wrappers_given_parameters_or_unknowns_are_left_alone(construction):
    code = WRAPPER.replace('OptimizerWrapper(self.model, config["optimizer"])', construction)
    assert only(code, "GG101") == []


def test_a_wrapper_no_call_of_this_file_constructs_is_left_alone():
    code = WRAPPER.split("class Trainer")[0]
    assert only(code, "GG101") == []


# -- nn.ParameterList / nn.ParameterDict handed to an optimizer ---------------------------

PARAMETER_CONTAINERS = """
import torch
from torch import nn, optim


class Mixture(nn.Module):
    def __init__(self, k):
        super().__init__()
        self.weights = nn.ParameterList(nn.Parameter(torch.randn(3)) for _ in range(k))


def make_optimizer(params, lr):
    return optim.SGD(params, lr=lr)


def main():
    mixture = Mixture(4)
    direct = optim.SGD(mixture.weights, lr=0.1)
    plist = nn.ParameterList([nn.Parameter(torch.randn(2))])
    helper = make_optimizer(plist, 0.1)
"""


def test_a_parameter_list_is_accepted_as_parameters():
    """Iterating an nn.ParameterList yields its Parameters: the optimizer takes it."""
    assert only(PARAMETER_CONTAINERS, "GG101") == []
    _runs(PARAMETER_CONTAINERS, "\nmain()\n")


def test_a_parameter_dict_handed_through_a_helper_raises_on_its_keys():
    code = PARAMETER_CONTAINERS.replace(
        "plist = nn.ParameterList([nn.Parameter(torch.randn(2))])",
        'plist = nn.ParameterDict({"a": nn.Parameter(torch.randn(2))})',
    )
    (finding,) = only(code, "GG101")
    # Not "'ParameterDict' object is not iterable": it iterates its keys (str).
    assert "not iterable" not in finding.message and "`TypeError`" in finding.message
    _raises(code, TypeError, "one of the params is str", "\nmain()\n")
