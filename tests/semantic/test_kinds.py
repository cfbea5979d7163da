"""The model's answers GG101 and GG104 read: kinds (``semantic.kinds``), models with no
parameters (``semantic.parameter_free``), what callers pass (``semantic.callers``),
lists of parameter groups (``semantic.param_groups``)."""

import ast
import textwrap

import pytest

from gradguard.analysis.facts import ModuleFacts
from gradguard.semantic.kinds import Kinds
from gradguard.semantic.objects import describe
from gradguard.source import SourceFile

HEADER = "import itertools\nimport torch\nfrom torch import nn\n"


def kinds_of(code: str) -> Kinds:
    text = HEADER + textwrap.dedent(code)
    return Kinds.of(ModuleFacts(SourceFile(text, "train.py"), ast.parse(text)))


def expression(kinds: Kinds, text: str) -> ast.expr:
    """The first expression of the file whose source is ``text``."""
    source = kinds.facts.source
    for node in ast.walk(kinds.facts.tree):
        stored = isinstance(getattr(node, "ctx", None), ast.Store)
        if isinstance(node, ast.expr) and not stored and source.node_text(node) == text:
            return node
    raise AssertionError(text)


@pytest.mark.parametrize(
    ("code", "text", "expected"),
    [
        ("a = nn.Linear(2, 2)\nopt = torch.optim.SGD(a.parameters())", "a.parameters()", True),
        ("a = nn.Linear(2, 2)\nps = list(a.parameters())\nx = ps", "ps", True),
        # A list of generators is not a list of parameters.
        ("a = nn.Linear(2, 2)\nb = nn.Linear(2, 2)\nx = [a.parameters(), b.parameters()]",
         "[a.parameters(), b.parameters()]", False),
        ("a = nn.Linear(2, 2)\nx = a.named_parameters()", "a.named_parameters()", False),
    ],
)  # fmt: skip
def test_holds_module_parameters(code, text, expected):
    kinds = kinds_of(code)
    assert kinds.holds_module_parameters(expression(kinds, text)) is expected


@pytest.mark.parametrize(
    ("code", "text", "expected"),
    [
        ("w = nn.Parameter(torch.ones(2))\nx = w", "w", True),
        ("fc = nn.Linear(2, 2)\nx = fc.weight", "fc.weight", True),
        ("t = torch.zeros(2, requires_grad=True)\nx = t", "t", True),
        ("t = torch.zeros(2)\nx = t.requires_grad_()", "t.requires_grad_()", True),
        ("t = torch.zeros(2)\nx = t", "t", False),
        ("m = nn.Linear(2, 2)\nx = m.requires_grad_()", "m.requires_grad_()", False),
    ],
)
def test_is_parameter_tensor(code, text, expected):
    kinds = kinds_of(code)
    assert kinds.is_parameter_tensor(expression(kinds, text)) is expected


BUFFERS = """
class Scale(nn.Module):
    def __init__(self, n, gain=2.0):
        super().__init__()
        self.n = n
        self.gain = gain
        self.register_buffer("weight", torch.ones(n))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = Scale(4)
        self.act = nn.GELU()
"""


@pytest.mark.parametrize(
    ("change", "free"),
    [
        ("", True),
        ("self.act = nn.GELU()|self.act = nn.Linear(4, 4)", False),
        ("self.a = Scale(4)|self.a = Scale(size)", False),  # unknown size: a module?
        ("self.gain = gain|self.gain = nn.Parameter(torch.ones(1))", False),
        ("self.gain = gain|self.register_parameter('g', None)", False),
    ],
)
def test_models_that_keep_their_weights_as_buffers(change, free):
    code = BUFFERS
    if change:
        old, new = change.split("|")
        code = code.replace(old, new)
    kinds = kinds_of(code + "\nmodel = Net()\nopt = torch.optim.SGD(model.parameters())\n")
    (owner,) = kinds.model.parameter_owners(expression(kinds, "model.parameters()"))
    site = kinds.parameter_free.buffer_site(owner)
    assert (site is not None) is free
    if free:
        assert kinds.facts.source.node_text(site).startswith("self.register_buffer(")


def test_what_the_file_passes_to_a_wrapper_and_a_factory():
    kinds = kinds_of(
        """
        class Wrapper:
            def __init__(self, model, lr):
                self.opt = torch.optim.SGD(model, lr=lr)

            def rebuild(self, other):
                return torch.optim.SGD(other, lr=0.1)


        def make(model):
            return torch.optim.SGD(model, lr=0.1)


        net = nn.Linear(2, 2)
        w = Wrapper(net, 0.1)
        w.rebuild(net.parameters())
        make(net)
        make(unknown)
        """
    )
    callers = kinds.callers
    for function, name, expected in [
        ("__init__", "model", ["Layer(torch.nn.Linear)"]),
        ("rebuild", "other", ["Parameters(Layer(torch.nn.Linear))"]),
        ("make", "model", ["Layer(torch.nn.Linear)", "Unknown"]),
    ]:
        definition = next(
            d
            for scope in kinds.facts.scopes[1:]
            if getattr(scope, "name", "") == function
            for d in kinds.model.bindings(scope).definitions[name]
        )
        assert [describe(v) for _, v in callers.passed(definition)] == expected


def test_a_list_of_group_dicts_is_one_object_through_a_helper():
    kinds = kinds_of(
        """
        def get_groups(model):
            groups = [{"params": [model.weight]}, {"params": [model.bias]}]
            return groups


        model = nn.Linear(2, 2)
        groups = get_groups(model)
        opt = torch.optim.SGD(groups, lr=0.1)
        """
    )
    lines = kinds.facts.source.text.splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.startswith("opt = "))
    assert kinds.model.describe_at("groups", line) == "ParamGroups(2)"
