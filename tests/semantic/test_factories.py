"""Which same-file functions the model sees returning a module (``facts.callee_kind``
calls them module factories): one shape a row."""

import ast
import textwrap

import pytest

from gradguard.analysis.facts import ModuleFacts
from gradguard.source import SourceFile

HEADER = "import torch\nfrom torch import nn\n\n"
NET = "class Net(nn.Module):\n    def forward(self, x):\n        return x\n\n"


def returns_module(code: str, name: str) -> bool:
    text = HEADER + NET + textwrap.dedent(code)
    return ModuleFacts(SourceFile(text, "models.py"), ast.parse(text)).returns_module(name)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("def make():\n    return Net()\n", True),
        ("def make():\n    model = Net()\n    return model\n", True),
        # a module moved before it is returned is still that module (was not seen)
        ("def make(device):\n    head = nn.Linear(4, 3)\n    return head.to(device)\n", True),
        (
            "def make(cfg):\n    if cfg.small:\n        return nn.Linear(4, 2)\n    return None\n",
            True,
        ),
        (
            "def build():\n    return nn.Sequential(nn.Linear(4, 2))\n\n"
            + "def make():\n    return build()\n",
            True,
        ),
        # the value that reaches the return counts, not an earlier one
        ("def make():\n    model = Net()\n    model = 3\n    return model\n", False),
        # what a caller passes is not built here
        ("def wrap(model):\n    return model\n\nwrap(Net())\n", False),
        ("def size(model):\n    return sum(p.numel() for p in model.parameters())\n", False),
        ("def make():\n    pass\n", False),
    ],
)
def test_returns_a_module(code, expected):
    name = "make" if "def make" in code else code.split("(")[0].removeprefix("def ")
    assert returns_module(code, name) is expected
