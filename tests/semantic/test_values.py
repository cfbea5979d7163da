"""The semantic model itself: "at line N, `x` holds ...", one data-flow shape a row.

Each row is a program as users write it, the 1-based line of a statement, a name, and
what the model says the name holds when that statement starts to run. A gain here is
tested once, not once per rule.
"""

import ast
import textwrap

import pytest

from gradguard.analysis.facts import ModuleFacts
from gradguard.semantic.model import SemanticModel
from gradguard.source import SourceFile

HEADER = "import itertools\nimport torch\nfrom torch import nn\n"


def model_of(code: str) -> SemanticModel:
    text = HEADER + textwrap.dedent(code)
    return SemanticModel.of(ModuleFacts(SourceFile(text, "train.py"), ast.parse(text)))


def holds(code: str, line: int, name: str) -> str:
    """What ``name`` holds at ``line`` of ``code`` (counted without the header)."""
    return model_of(code).describe_at(name, line + HEADER.count("\n"))


NET = """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(4, 8)
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.backbone(x))
"""
NET_LINES = NET.count("\n")

LINEAR = "Layer(torch.nn.Linear)"

CASES = [
    # Shape 1: a layer held in a local before it is assigned to the model.
    (
        NET + "model = Net()\nhead = nn.Linear(4, 3)\nmodel.fc = head\nw = model.fc\nprint(w)\n",
        NET_LINES + 5,
        "w",
        LINEAR,
    ),
    # Shape 1 inside a helper that the script calls with its model.
    (
        NET
        + "def speedup(model):\n    new = nn.Linear(4, 4)\n    model.fc1 = new\n\n"
        + "model = Net()\nspeedup(model)\nlayer = model.fc1\nprint(layer)\n",
        NET_LINES + 8,
        "layer",
        LINEAR,
    ),
    # Shape 2: a helper reaches the layer through a local.
    (
        NET + "model = Net()\ninner = model.backbone\nprint(inner)\n",
        NET_LINES + 3,
        "inner",
        LINEAR,
    ),
    # Shape 3: aliases.
    (NET + "model = Net()\nnet = model\nprint(net)\n", NET_LINES + 3, "net", "Module(Net)"),
    ("layer = nn.Linear(2, 2)\nnothing = None\nlayer.bias = nothing\n", 3, "nothing", "None"),
    # Shape 4: order; the name holds what its latest definition gave it.
    (
        "a = nn.Linear(2, 2)\nb = nn.Conv2d(1, 1, 1)\nparams = a.parameters()\n"
        "opt = torch.optim.SGD(params, lr=0.1)\nparams = b.parameters()\nprint(params)\n",
        4,
        "params",
        "Parameters(Layer(torch.nn.Linear))",
    ),
    (
        "a = nn.Linear(2, 2)\nb = nn.Conv2d(1, 1, 1)\nparams = a.parameters()\n"
        "opt = torch.optim.SGD(params, lr=0.1)\nparams = b.parameters()\nprint(params)\n",
        6,
        "params",
        "Parameters(Layer(torch.nn.Conv2d))",
    ),
    (
        "a = nn.Linear(2, 2)\nparams = a.parameters()\nopt = torch.optim.SGD(params, lr=0.1)\n"
        "print(opt)\n",
        4,
        "opt",
        "Optimizer(Parameters(Layer(torch.nn.Linear)))",
    ),
    # Shape 5: a function reads the module-level model as a global.
    (
        NET + "model = Net()\ndef train():\n    global model\n    model = Net()\n"
        "def evaluate():\n    print(model)\n",
        NET_LINES + 6,
        "model",
        "Module(Net) | Module(Net)",
    ),
    # Shape 6: an iterator returned by a helper.
    (
        "def params_of(m):\n    return m.parameters()\n\nfc = nn.Linear(2, 2)\n"
        "params = params_of(fc)\nprint(params)\n",
        6,
        "params",
        "Parameters(Layer(torch.nn.Linear))",
    ),
    # Shape 7: parameter lists built by concatenation and comprehensions.
    (
        "G = nn.Linear(2, 2)\nD = nn.Conv2d(1, 1, 1)\n"
        "params = list(G.parameters()) + list(D.parameters())\nprint(params)\n",
        4,
        "params",
        "Parameters(Layer(torch.nn.Conv2d), Layer(torch.nn.Linear))",
    ),
    (
        "G = nn.Linear(2, 2)\nD = nn.Conv2d(1, 1, 1)\n"
        "params = itertools.chain(G.parameters(), D.parameters())\nprint(params)\n",
        4,
        "params",
        "Parameters(Layer(torch.nn.Conv2d), Layer(torch.nn.Linear))",
    ),
    (
        "G = nn.Linear(2, 2)\nparams = [p for p in G.parameters() if p.requires_grad]\n"
        "print(params)\n",
        3,
        "params",
        "Parameters(Layer(torch.nn.Linear))",
    ),
    (
        "G = nn.Linear(2, 2)\nparams = list(G.parameters())\nparams += list(nn.Conv2d(1, 1, 1)"
        ".parameters())\nprint(params)\n",
        4,
        "params",
        "Parameters(Layer(torch.nn.Conv2d), Layer(torch.nn.Linear))",
    ),
    # Shape 8: a tensor from a same-file function that never asked for grad.
    (
        "import numpy as np\ndef prepare(img):\n    return torch.from_numpy(np.asarray(img))\n"
        "inputs = prepare(img)\nprint(inputs)\n",
        5,
        "inputs",
        "Tensor(leaf=True, requires_grad=False)",
    ),
    # Shape 9: subscripts of containers.
    (
        "model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())\nfirst = model[0]\nprint(first)\n",
        3,
        "first",
        LINEAR,
    ),
    # Branches: both arms reach the join; aliases through a conditional expression.
    (
        "if cuda:\n    m = nn.Linear(2, 2)\nelse:\n    m = nn.Conv2d(1, 1, 1)\nprint(m)\n",
        5,
        "m",
        "Layer(torch.nn.Conv2d) | Layer(torch.nn.Linear)",
    ),
    (
        "model = nn.Linear(2, 2)\nm = model.module if hasattr(model, 'module') else model\n"
        "print(m)\n",
        3,
        "m",
        f"{LINEAR} | Unknown",
    ),
    # A definition in a branch that does not dominate leaves the earlier one reaching.
    (
        "m = nn.Linear(2, 2)\nif swap:\n    m = nn.Conv2d(1, 1, 1)\nprint(m)\n",
        4,
        "m",
        "Layer(torch.nn.Conv2d) | Layer(torch.nn.Linear)",
    ),
    # The next iteration sees what the loop body bound later.
    (
        "m = nn.Linear(2, 2)\nfor epoch in range(3):\n    print(m)\n    m = nn.Conv2d(1, 1, 1)\n",
        3,
        "m",
        "Layer(torch.nn.Conv2d) | Layer(torch.nn.Linear)",
    ),
    # Unpacking, walrus, with, for.
    ("a, b = nn.Linear(2, 2), None\nprint(a, b)\n", 2, "b", "None"),
    ("a, b = make()\nprint(a)\n", 2, "a", "Unknown"),
    ("if (m := nn.Linear(2, 2)) is not None:\n    print(m)\n", 2, "m", LINEAR),
    ("with open('f') as handle:\n    print(handle)\n", 2, "handle", "Unknown"),
    (
        "model = nn.Linear(2, 2)\nfor p in model.parameters():\n    print(p)\n",
        3,
        "p",
        "Parameter(Layer(torch.nn.Linear))",
    ),
    # Parameters of a function are unknown; ``self`` is the class's instance.
    ("def train(model):\n    print(model)\n", 2, "model", "Unknown"),
    (NET + "    def extra(self):\n        print(self)\n", NET_LINES + 2, "self", "Module(Net)"),
    # Objects across methods: a trainer's fields carry their values from __init__.
    (
        NET + "class Trainer:\n    def __init__(self, model):\n        self.model = model\n"
        "        self.opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "    def step(self):\n        m = self.model\n        print(m)\n"
        "trainer = Trainer(Net())\n",
        NET_LINES + 7,
        "m",
        "Unknown",
    ),
    (
        NET + "class Trainer:\n    def __init__(self, model):\n        self.model = model\n"
        "trainer = Trainer(Net())\nm = trainer.model\nprint(m)\n",
        NET_LINES + 6,
        "m",
        "Module(Net)",
    ),
    (
        NET + "class Trainer:\n    def __init__(self):\n        self.model = Net()\n"
        "        self.opt = torch.optim.Adam(self.model.parameters())\n"
        "    def step(self):\n        opt = self.opt\n        print(opt)\n",
        NET_LINES + 7,
        "opt",
        "Optimizer(Parameters(Module(Net)))",
    ),
    # A same-file factory's result.
    (
        NET
        + "def build(width):\n    net = Net()\n    return net\nmodel = build(4)\nprint(model)\n",
        NET_LINES + 5,
        "model",
        "Module(Net)",
    ),
    # Moves return the module itself.
    (NET + "model = Net().to('cuda')\nprint(model)\n", NET_LINES + 2, "model", "Module(Net)"),
    # Factories: requires_grad as given.
    (
        "w = torch.zeros(3, requires_grad=True)\nprint(w)\n",
        2,
        "w",
        "Tensor(leaf=True, requires_grad=True)",
    ),
]


@pytest.mark.parametrize(("code", "line", "name", "expected"), CASES)
def test_what_a_name_holds(code, line, name, expected):
    assert holds(code, line, name) == expected


def test_alias_shares_the_object_of_its_source():
    """Allocation-site identity: two names bound to one call hold one object."""
    semantic = model_of("a = nn.Linear(2, 2)\nb = a\nprint(a, b)\n")
    statement = semantic.facts.tree.body[-1]
    assert semantic.value_at("a", statement) == semantic.value_at("b", statement)


def test_two_calls_are_two_objects():
    semantic = model_of("a = nn.Linear(2, 2)\nb = nn.Linear(2, 2)\nprint(a, b)\n")
    statement = semantic.facts.tree.body[-1]
    assert semantic.value_at("a", statement) != semantic.value_at("b", statement)


def test_a_recursive_helper_is_unknown_not_endless():
    code = (
        "def build(n):\n    return build(n - 1) if n else nn.Linear(2, 2)\nm = build(3)\nprint(m)\n"
    )
    assert LINEAR in holds(code, 4, "m")


def test_a_long_chain_of_rebindings_is_unknown_not_a_recursion_error():
    code = "x = None\n" + "x = x + 1\n" * 3000 + "print(x)\n"
    assert holds(code, 3002, "x") == "Unknown"


def test_rules_on_a_long_chain_report_no_internal_error():
    from helpers import findings

    code = "import torch.nn as nn\nlayer = nn.Linear(2, 2)\nx = None\n"
    code += "x = x + 1\n" * 3000 + "layer.bias = x\n"
    findings(code)  # asserts no notice (no rule skipped or failed)
