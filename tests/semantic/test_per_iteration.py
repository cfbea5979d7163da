"""The semantic model's loop questions (GG103) and its training-step objects.

``varies_in``: may an expression hold other objects on the loop's next pass?
``repeated_calls``: which calls of a function does a loop make on every pass? And what
GradScaler / scheduler objects names hold through helpers and aliases.
"""

import ast
import textwrap

import pytest

from gradguard.analysis.facts import ModuleFacts
from gradguard.semantic import per_iteration
from gradguard.semantic.model import SemanticModel
from gradguard.source import SourceFile


def model_of(code: str) -> SemanticModel:
    text = textwrap.dedent(code)
    return SemanticModel.of(ModuleFacts(SourceFile(text, "train.py"), ast.parse(text)))


def _loop_and_params(semantic: SemanticModel) -> tuple[ast.stmt, ast.expr, ast.stmt]:
    """The innermost loop holding the optimizer call, its params, its statement."""
    facts = semantic.facts
    call = next(
        node
        for node in ast.walk(facts.tree)
        if isinstance(node, ast.Call) and facts.is_optimizer_call(node)
    )
    loop = next(p for p in facts.ancestors(call) if isinstance(p, (ast.For, ast.While)))
    statement = facts.enclosing_statement(call)
    assert statement is not None
    return loop, call.args[0], statement


VARIES = [
    # A new model per fold: the loop rebinds the name the parameters come from.
    ("for fold in range(5):\n    model = Net()\n    opt = SGD(model.parameters())\n", True),
    ("for model in models:\n    opt = SGD(model.parameters())\n", True),
    # A layer of the model replaced in the loop: the next optimizer sees new parameters.
    (
        "model = Net()\nfor x in data:\n    model.fc = nn.Linear(4, 2)\n"
        "    opt = SGD(model.parameters())\n",
        True,
    ),
    ("for x in data:\n    opt = SGD(Net().parameters())\n", True),
    # The same model on every pass, also through an alias bound before the loop.
    ("model = Net()\nfor x in data:\n    opt = SGD(model.parameters())\n", False),
    (
        "model = Net()\nnet = model\nfor x in data:\n"
        "    model = Net()\n    opt = SGD(net.parameters())\n",
        False,
    ),
    # A field of a trainer set before the loop; another field written in the loop.
    (
        "class T:\n    def fit(self, data):\n        for x in data:\n"
        "            self.history = []\n            self.opt = SGD(self.model.parameters())\n",
        False,
    ),
    (
        "class T:\n    def fit(self, data):\n        for x in data:\n"
        "            self.model = Net()\n            self.opt = SGD(self.model.parameters())\n",
        True,
    ),
]

PRELUDE = (
    "import torch\nfrom torch import nn\nfrom torch.optim import SGD\n\n"
    "class Net(nn.Module):\n    pass\n\n"
)


@pytest.mark.parametrize(("code", "expected"), VARIES)
def test_varies_in(code, expected):
    semantic = model_of(PRELUDE + code)
    loop, params, statement = _loop_and_params(semantic)
    assert per_iteration.varies_in(semantic, params, loop, made_by=statement) is expected


def test_repeated_calls_are_those_a_loop_makes_on_every_pass():
    semantic = model_of(
        """
        def train(net, loader):
            pass

        train(net, loader)
        for epoch in range(10):
            train(net, loader)
            if epoch % 2:
                train(net, loader)
        else:
            train(net, loader)
        """
    )
    function = semantic.facts.functions["train"]
    (repeated,) = per_iteration.repeated_calls(semantic, function)
    assert repeated.call.lineno == 7
    assert repeated.loop.lineno == 6


@pytest.mark.parametrize(
    ("code", "name", "expected"),
    [
        ("scaler = torch.amp.GradScaler('cuda')\n", "scaler", "GradScaler(enabled=True)"),
        (
            "def make_scaler(amp):\n    return torch.amp.GradScaler(enabled=amp)\n\n"
            "scaler = make_scaler(True)\nalias = scaler\n",
            "alias",
            "GradScaler(enabled=None)",
        ),
        (
            "opt = torch.optim.SGD(params, lr=0.1)\n"
            "sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10)\n",
            "sched",
            "Scheduler(StepLR, optimizer=opt)",
        ),
        (
            "import accelerate\naccelerator = accelerate.Accelerator()\n",
            "accelerator",
            "Accelerator",
        ),
    ],
)
def test_training_step_objects(code, name, expected):
    semantic = model_of("import torch\n" + code + "print()\n")
    line = code.count("\n") + 2
    assert semantic.describe_at(name, line) == expected
