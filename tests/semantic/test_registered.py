"""The parameter queries of the model: "at line N, is `base.attr` a registered parameter",
"does `setattr`'s name reach one", "is this a new plain tensor". One shape a row."""

import ast
import textwrap

import pytest

from gradguard.analysis.facts import ModuleFacts
from gradguard.semantic.model import SemanticModel
from gradguard.semantic.objects import describe
from gradguard.semantic.parameter_names import reached_parameter
from gradguard.semantic.plain_tensors import is_plain_tensor
from gradguard.semantic.registered import RegisteredParameters
from gradguard.source import SourceFile

HEADER = "import torch\nimport torchvision\nfrom torch import nn\n"


def _statement(code: str, line: int) -> tuple[SemanticModel, ast.stmt]:
    text = HEADER + textwrap.dedent(code)
    facts = ModuleFacts(SourceFile(text, "train.py"), ast.parse(text))
    wanted = line + HEADER.count("\n")
    for scope in facts.scopes:
        for info in facts.statements_of(scope):
            if info.node.lineno == wanted:
                return SemanticModel.of(facts), info.node
    raise ValueError(f"no statement on line {line}")


def _expression(statement: ast.stmt, text: str) -> ast.expr:
    wanted = ast.dump(ast.parse(text, mode="eval").body)
    return next(n for n in ast.walk(statement) if ast.dump(n) == wanted)  # type: ignore[return-value]


def registered(code: str, line: int, base: str, attr: str) -> bool:
    model, statement = _statement(code, line)
    return RegisteredParameters.of(model).is_parameter(
        _expression(statement, base), attr, statement
    )


NET = """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2, bias=False)
        self.scale = nn.Parameter(torch.ones(2))
        self.act = nn.ReLU()

class Scaled(nn.Linear):
    def reset(self):
        self.weight = None
"""


@pytest.mark.parametrize(
    ("code", "line", "base", "attr", "expected"),
    [
        ("m = nn.Linear(2, 2)\nm.weight = None\n", 2, "m", "weight", True),
        ("m = nn.Linear(2, 2)\nm.weight = None\n", 2, "m", "scale", False),
        ("m = nn.ReLU()\nm.weight = None\n", 2, "m", "weight", False),
        (
            "m = nn.Sequential(nn.Linear(2, 2), nn.ReLU())\nm[0].bias = None\n",
            2,
            "m[0]",
            "bias",
            True,
        ),
        (
            "m = nn.Sequential(nn.Linear(2, 2), nn.ReLU())\nm[1].bias = None\n",
            2,
            "m[1]",
            "bias",
            False,
        ),
        (NET + "net = Net()\nnet.scale = None\n", 13, "net", "scale", True),
        (NET + "net = Net()\nnet.fc.weight = None\n", 13, "net.fc", "weight", True),
        (NET + "net = Net()\nnet.act.weight = None\n", 13, "net.act", "weight", False),
        (NET, 11, "self", "weight", True),  # a subclass of nn.Linear
        # registered on the object earlier in the scope, not later
        (
            "m = build()\nm.extra = nn.Parameter(torch.ones(1))\nm.extra = None\n",
            3,
            "m",
            "extra",
            False,
        ),
        (
            "m = nn.Identity()\nm.extra = nn.Parameter(torch.ones(1))\nm.extra = None\n",
            3,
            "m",
            "extra",
            True,
        ),
        (
            "m = nn.Identity()\nm.extra = None\nm.extra = nn.Parameter(torch.ones(1))\n",
            2,
            "m",
            "extra",
            False,
        ),
        # isinstance tests and annotations
        (
            "def init(m):\n    if isinstance(m, nn.Linear):\n        m.weight = None\n",
            3,
            "m",
            "weight",
            True,
        ),
        (
            "def init(m):\n    if isinstance(m, (nn.Conv2d, nn.Linear)):\n        m.bias = None\n",
            3,
            "m",
            "bias",
            True,
        ),
        (
            "def init(m):\n    if isinstance(m, nn.ReLU):\n        m.weight = None\n",
            3,
            "m",
            "weight",
            False,
        ),
        (
            "def init(m):\n    if isinstance(m, nn.Linear):\n        m = m.inner\n"
            "        m.weight = None\n",
            4,
            "m",
            "weight",
            False,
        ),
        # an ``isinstance`` test that is one operand of an ``and`` narrows too
        (
            "def init(m):\n    if isinstance(m, nn.Linear) and m.bias is not None:\n"
            "        m.bias = None\n",
            3,
            "m",
            "bias",
            True,
        ),
        (
            "def init(m):\n    if m.bias is not None and isinstance(m, nn.ReLU):\n"
            "        m.bias = None\n",
            3,
            "m",
            "bias",
            False,
        ),
        # ``or`` does not narrow: either operand may hold
        (
            "def init(m):\n    if isinstance(m, nn.Linear) or m.bias is not None:\n"
            "        m.bias = None\n",
            3,
            "m",
            "bias",
            False,
        ),
        ("def reset(m: nn.Embedding):\n    m.weight = None\n", 2, "m", "weight", True),
        # a helper only the file calls holds what the calls pass; one given away does not
        ("def drop(m):\n    m.bias = None\n\ndrop(nn.Linear(2, 2))\n", 2, "m", "bias", True),
        ("def drop(m):\n    m.bias = None\n\nnn.Linear(2, 2).apply(drop)\n", 2, "m", "bias", False),
        (
            "def drop(m):\n    m.bias = None\n\ndrop(nn.Linear(2, 2))\ndrop(load())\n",
            2,
            "m",
            "bias",
            False,
        ),
        ("from lib import make\nm = make()\nm.weight = None\n", 3, "m", "weight", False),
    ],
)
def test_is_a_registered_parameter(code, line, base, attr, expected):
    assert registered(code, line, base, attr) is expected


def test_a_flag_that_leaves_a_parameter_none_is_registered_but_holds_none():
    code = "m = nn.Linear(2, 2, bias=False)\nm.bias = None\nk = nn.Linear(2, 2)\nk.bias = None\n"
    model, statement = _statement(code, 2)
    query = RegisteredParameters.of(model)
    m = _expression(statement, "m")
    assert query.is_parameter(m, "bias", statement)  # a tensor there still raises TypeError
    assert not query.holds_parameter(m, "bias", statement)
    model, statement = _statement(code, 4)
    assert RegisteredParameters.of(model).holds_parameter(
        _expression(statement, "k"), "bias", statement
    )


@pytest.mark.parametrize(
    ("code", "line", "expected"),
    [
        ("m = torchvision.models.resnet18()\nx = m\n", 2, "Module(torchvision.models.resnet18)"),
        ("m = nn.Linear(2, 2).train()\nx = m\n", 2, "Layer(torch.nn.Linear)"),
        (
            "m = nn.Linear(2, 2)\nm = m.eval().requires_grad_(False)\nx = m\n",
            3,
            "Layer(torch.nn.Linear)",
        ),
        (
            "class Net(nn.Module):\n    def train(self, mode=True):\n        return None\n"
            "m = Net().train()\nx = m\n",
            5,
            "None",
        ),
    ],
)
def test_modules_that_return_themselves_and_factories_through_attributes(code, line, expected):
    model, statement = _statement(code, line)
    assert describe(model.value_at("m", statement)) == expected


LOOPS = """
def load(layer: nn.Linear, arrays, names, net):
    for name, p in layer.named_parameters():
        setattr(layer, name, p)
    for name in ("running_mean", "weight"):
        setattr(layer, name, p)
    for name in layer._parameters:
        setattr(layer, name, p)
    for name, p in net.named_parameters():
        setattr(layer, name, p)
    for name in names:
        setattr(layer, name, p)
    setattr(layer, "bias", p)
    setattr(layer, "running_mean", p)
    bn = nn.BatchNorm2d(3, affine=False)
    for name, p in bn.named_parameters():
        setattr(bn, name, p)
"""


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (4, ("weight", True)),
        (6, ("weight", True)),
        (8, ("weight", True)),
        (10, None),  # another module's names
        (12, None),  # names from elsewhere
        (13, ("bias", False)),
        (14, None),  # not a parameter name of Linear
        (17, None),  # affine=False: no parameters to loop over
    ],
)
def test_which_parameter_a_setattr_name_reaches(line, expected):
    model, statement = _statement(LOOPS, line)
    call = statement.value  # type: ignore[attr-defined]
    base, name, _ = call.args
    assert reached_parameter(model, base, name, statement) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("w * 2", True),
        ("-w", True),
        ("torch.zeros(3)", True),
        ("torch.nn.functional.softmax(w, 0)", True),
        ("m.weight.detach()", True),
        ("m.weight.data", True),
        ("new", True),  # bound to a factory
        ("w.to('cpu')", False),  # may hand back the Parameter itself
        ("nn.Parameter(w)", False),
        ("torch.as_tensor(w)", False),
        ("load()", False),
        ("maybe", False),  # a factory on one branch, unknown on the other
    ],
)
def test_what_is_certainly_a_new_plain_tensor(value, expected):
    code = (
        "m = nn.Linear(3, 3)\nw = m.weight\nnew = torch.randn(3)\n"
        "maybe = torch.ones(3) if flag else load()\n"
        f"m.weight = {value}\n"
    )
    model, statement = _statement(code, 5)
    assert is_plain_tensor(model, statement.value, statement) is expected  # type: ignore[attr-defined]
