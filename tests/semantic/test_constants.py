"""Constants and configuration in the model: "at line N, `x` holds ...", one shape a row.

Each row is a program as users write it, the 1-based line of a statement (counted without
the header), a name, and the literals (or library callables) the model says the name
holds when that statement starts to run: ``False`` (known), ``False | True`` (possibly
False), ``Unknown`` in the mix (anything else too).
"""

import ast
import re
import textwrap

import pytest

from gradguard.analysis.facts import ModuleFacts
from gradguard.semantic.model import SemanticModel
from gradguard.source import SourceFile

HEADER = (
    "import functools\nfrom dataclasses import dataclass, field\n"
    + "import torch\nfrom torch import nn\n"
)


def model_of(code: str) -> SemanticModel:
    text = HEADER + textwrap.dedent(code)
    return SemanticModel.of(ModuleFacts(SourceFile(text, "train.py"), ast.parse(text)))


def constant(code: str, line: int, name: str) -> str:
    return model_of(code).constant_at(name, line + HEADER.count("\n"))


FACTORY = """
def make_head(features, use_bias=True):
    flag = use_bias
    return nn.Linear(features, 2, bias=flag)
"""

BLOCK = """
class Block(nn.Module):
    def __init__(self, dim, bias=True):
        super().__init__()
        self.use_bias = bias
        self.proj = nn.Linear(dim, dim, bias=bias)

    def reset(self):
        flag = self.use_bias
        return flag
"""

CASES = [
    # Locals.
    ("use_bias = False\nflag = use_bias\nprint(flag)\n", 3, "flag", "False"),
    ("flag = False if small else True\nprint(flag)\n", 2, "flag", "False | True"),
    ("flag = args.bias\nprint(flag)\n", 2, "flag", "Unknown"),
    # Default arguments: a function the file never calls keeps its default.
    (FACTORY, 3, "use_bias", "True"),
    # Keyword and positional arguments at the file's own calls (the default where omitted).
    (FACTORY + "head = make_head(8, use_bias=False)\n", 4, "flag", "False"),
    (FACTORY + "head = make_head(8, False)\n", 4, "flag", "False"),
    (FACTORY + "a = make_head(8, use_bias=False)\nb = make_head(8)\n", 4, "flag", "False | True"),
    (FACTORY + "head = make_head(8, *extra)\n", 4, "flag", "Unknown"),
    # A function also used as a value may be called with anything.
    (FACTORY + "a = make_head(8, False)\nbuilders = [make_head]\n", 4, "flag", "False | Unknown"),
    # A constructor parameter another class passes as False; through `self.<field>`.
    (
        BLOCK + "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.block = Block(64, bias=False)\n",
        5,
        "bias",
        "False",
    ),
    (BLOCK + "block = Block(64, bias=False)\n", 10, "flag", "False"),
    (
        BLOCK + "class Small(Block):\n    def __init__(self):\n"
        "        super().__init__(16, bias=False)\n",
        5,
        "bias",
        "False",
    ),
    # Dict fields, `.get`, stores, merges, mutations.
    ('cfg = {"bias": False, "width": 64}\nflag = cfg["bias"]\nprint(flag)\n', 3, "flag", "False"),
    ('cfg = dict(bias=False)\nflag = cfg.get("bias", True)\nprint(flag)\n', 3, "flag", "False"),
    ('cfg = {"width": 64}\nflag = cfg.get("affine", True)\nprint(flag)\n', 3, "flag", "True"),
    (
        'cfg = {"bias": False}\ncfg["bias"] = True\nflag = cfg["bias"]\nprint(flag)\n',
        3,
        "flag",
        "False | True",
    ),
    (
        'cfg = {"bias": False}\ncfg.update(overrides)\nflag = cfg["bias"]\nprint(flag)\n',
        3,
        "flag",
        "False | Unknown",
    ),
    (
        'base = {"affine": False}\ncfg = {**base, "width": 8}\nflag = cfg["affine"]\nprint(flag)\n',
        3,
        "flag",
        "False",
    ),
    (  # a merge in a loop reads its own earlier value: no endless lookup
        'cfg = {"bias": False}\nfor k in keys:\n    cfg = {**cfg, k: 1}\nflag = cfg["bias"]\n'
        "print(flag)\n",
        5,
        "flag",
        "False | Unknown",
    ),
    (
        'CONFIGS = {"small": {"bias": False}, "large": {"bias": True}}\n'
        'cfg = CONFIGS["small"]\nflag = cfg["bias"]\nprint(flag)\n',
        3,
        "flag",
        "False",
    ),
    (
        'def get_config():\n    return {"bias": False}\n\ncfg = get_config()\n'
        'flag = cfg["bias"]\nprint(flag)\n',
        6,
        "flag",
        "False",
    ),
    # Dataclass fields: the constructor's argument, or the default.
    (
        "@dataclass\nclass Config:\n    width: int = 64\n    bias: bool = True\n\n"
        "cfg = Config(bias=False)\nflag = cfg.bias\nprint(flag)\n",
        8,
        "flag",
        "False",
    ),
    (
        "@dataclass\nclass Config:\n    width: int = 64\n    bias: bool = field(default=False)\n\n"
        "cfg = Config(32)\nflag = cfg.bias\nprint(flag)\n",
        8,
        "flag",
        "False",
    ),
    (
        "@dataclass\nclass Config:\n    width: int = 64\n    bias: bool = True\n\n"
        "cfg = Config(32, False)\nflag = cfg.bias\nprint(flag)\n",
        8,
        "flag",
        "False",
    ),
    # A config class read through the class itself.
    ("class CFG:\n    use_bias = False\n\nflag = CFG.use_bias\nprint(flag)\n", 5, "flag", "False"),
    # functools.partial, registries, references.
    (
        "norm = functools.partial(nn.BatchNorm2d, affine=False)\nprint(norm)\n",
        2,
        "norm",
        "partial(torch.nn.BatchNorm2d, affine=False)",
    ),
    (
        'INITS = {"zeros": nn.init.zeros_, "normal": nn.init.normal_}\ninit = INITS["zeros"]\n'
        "print(init)\n",
        3,
        "init",
        "torch.nn.init.zeros_",
    ),
    (
        'INITS = {"zeros": nn.init.zeros_, "normal": nn.init.normal_}\n'
        "def pick(name):\n    init = INITS[name]\n    return init\n",
        4,
        "init",
        "torch.nn.init.normal_ | torch.nn.init.zeros_",
    ),
    # **kwargs: the keywords a call passes beyond the named parameters.
    (
        'def make_norm(c, **kwargs):\n    flag = kwargs.get("affine", True)\n    return flag\n\n'
        "bn = make_norm(8, affine=False)\n",
        3,
        "flag",
        "False",
    ),
    (
        'def make_norm(c, **kwargs):\n    flag = kwargs.get("affine", True)\n    return flag\n\n'
        "bn = make_norm(8, momentum=0.1)\n",
        3,
        "flag",
        "True",
    ),
    (
        "def make_norm(c, affine=True):\n    flag = affine\n    return flag\n\n"
        'bn = make_norm(8, **{"affine": False})\n',
        3,
        "flag",
        "False",
    ),
]


@pytest.mark.parametrize(("code", "line", "name", "expected"), CASES)
def test_constant_at(code, line, name, expected):
    assert constant(code, line, name) == expected


LAYER_CASES = [
    # A layer built through a partial, a config dict entry, a registry, a dataclass field.
    ("norm = functools.partial(nn.BatchNorm2d, affine=False)\nbn = norm(8)\nprint(bn)\n", 3),
    ('CFG = {"norm": nn.BatchNorm2d}\nbn = CFG["norm"](8)\nprint(bn)\n', 3),
    (
        "@dataclass\nclass Config:\n    norm_layer: object = nn.BatchNorm2d\n\n"
        "cfg = Config()\nbn = cfg.norm_layer(8)\nprint(bn)\n",
        7,
    ),
    (
        "class Net(nn.Module):\n    def __init__(self, norm_layer=nn.BatchNorm2d):\n"
        "        super().__init__()\n        self.norm = norm_layer\n"
        "        self.bn = self.norm(8)\n"
        "        print(self.bn)\n",
        6,
    ),
]


@pytest.mark.parametrize(("code", "line"), LAYER_CASES)
def test_layer_built_through_configuration(code, line):
    model = model_of(code)
    statement = model._statement_on(line + HEADER.count("\n"))
    value = model.value_of(statement.value.args[0])  # print(<it>)
    assert {getattr(o, "class_name", "") for o in value} == {"torch.nn.BatchNorm2d"}


def test_a_callee_holding_something_else_too_is_not_a_layer():
    code = 'CFG = {"norm": nn.BatchNorm2d, "custom": MyNorm}\nbn = CFG[kind](8)\nprint(bn)\n'
    model = model_of(code)
    statement = model._statement_on(3 + HEADER.count("\n"))
    assert "Unknown" in repr(model.value_of(statement.value.args[0]))


@pytest.mark.parametrize(
    ("code", "known", "flag"),
    [
        ("layer = nn.Linear(4, 4, bias=False)\n", True, "bias"),
        ("layer = nn.InstanceNorm2d(8)\n", True, "affine"),
        (
            "norm = functools.partial(nn.BatchNorm2d, affine=False)\nlayer = norm(8)\n",
            True,
            "affine",
        ),
        ('kw = {"affine": False}\nlayer = nn.GroupNorm(2, 8, **kw)\n', True, "affine"),
        (
            "def f(bias):\n    return nn.Conv2d(1, 1, 1, bias=bias)\n\nlayer = f(False)\n"
            "other = f(True)\n",
            False,
            "bias",
        ),
    ],
)
def test_absence_of_the_bias(code, known, flag):
    model = model_of(code)
    (absence,) = model.every_absence("bias")
    assert (absence.known, absence.flag) == (known, flag)


@pytest.mark.parametrize(
    "code",
    [
        "layer = nn.Linear(4, 4)\n",
        "layer = nn.Linear(4, 4, bias=args.bias)\n",
        "layer = nn.InstanceNorm2d(8, affine=True)\n",
        'kw = {"momentum": 0.1}\nlayer = nn.BatchNorm2d(8, **kw)\n',
        "norm = functools.partial(nn.BatchNorm2d, affine=True)\nlayer = norm(8)\n",
        "layer = nn.MultiheadAttention(8, 2, bias=False)\n",  # its `bias` means in_proj_bias
    ],
)
def test_no_absence(code):
    assert model_of(code).every_absence("bias") == []


def test_the_model_records_what_it_read():
    code = FACTORY + "head = make_head(8, use_bias=False)\n"
    model = model_of(code)
    constant_line = 4 + HEADER.count("\n")
    model.constant_at("flag", constant_line)
    read_lines = sorted({getattr(n, "lineno", 0) for n in model.read})
    # the definition of `flag`, the parameter's function and the call passing False
    assert read_lines == [constant_line - 2, constant_line - 1, constant_line + 1]


def test_a_scan_of_every_layer_is_recorded_as_a_pattern():
    model = model_of("layer = nn.Linear(4, 4, bias=False)\n")
    assert model.scans == set()
    model.every_absence("bias")
    (pattern,) = model.scans
    assert re.search(pattern, "norm = make_norm(affine=False)")
    assert not re.search(pattern, "norm = make_norm(affine=True)")


class _Log:
    """The read log's interface (``ReadLog``: enter/leave/reuse around each evaluation,
    read(node), scan(pattern)), recording the calls."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return lambda *args: self.calls.append((name, *args))


def test_reads_are_passed_on_to_the_incremental_read_log():
    code = FACTORY + "head = make_head(8, use_bias=False)\n"
    model = model_of(code)
    log = model.evaluator.reads = _Log()
    model.constant_at("flag", 4 + HEADER.count("\n"))
    model.every_absence("bias")
    kinds = {c[0] for c in log.calls}
    assert {"enter", "leave", "read", "scan"} <= kinds
    read_lines = {c[1].lineno for c in log.calls if c[0] == "read" and hasattr(c[1], "lineno")}
    assert 4 + HEADER.count("\n") + 1 in read_lines  # the call passing False
