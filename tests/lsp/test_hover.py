"""Hovers: findings, noqa codes, optimizer and model variables (also through jedi)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from lsp_helpers import GG102_CODE, GG204_CODE, Doc, codes, range_text, wait_for
from pytest_lsp import LanguageClient

from gradguard.rules import get_rule

pytestmark = pytest.mark.asyncio(loop_scope="session")

MODELS = textwrap.dedent(
    """\
    from torch import nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(x)
    """
)

TRAIN = textwrap.dedent(
    """\
    import torch
    from torch import nn

    from models import Net

    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.fc = nn.Linear(4, 2)
    for step in range(3):
        optimizer.zero_grad()
        model(torch.randn(8, 4)).sum().backward()
        optimizer.step()
    """
)


@pytest.fixture(scope="module")
def root(shared_root):
    root = shared_root
    (root / "models.py").write_text(MODELS)
    (root / "train.py").write_text(TRAIN)
    return root


@pytest.fixture
def client(shared_client: LanguageClient) -> LanguageClient:
    return shared_client


def text_of(hover) -> str:
    assert hover is not None
    assert hover.contents.kind == "markdown"
    return hover.contents.value


async def test_hover_on_a_finding_explains_the_rule(client: LanguageClient, root):
    doc = Doc(client, root / "finding.py", GG204_CODE).open()
    (diagnostic,) = await doc.diagnostics()
    hover = await doc.hover("_init_", 2)
    text = text_of(hover)
    assert "GG204" in text and "misspelled-init" in text
    assert diagnostic.message in text
    rule = get_rule("GG204")
    for section in ("Why is this bad?", "What PyTorch does", "Use instead", "Fix safety"):
        assert f"#### {section}" in text
        assert rule.sections[section] in text
    assert "optimizer got an empty parameter list" in text  # agrees with pytorch-facts
    assert hover.range == diagnostic.range


async def test_hover_on_a_noqa_code_shows_the_rule_docs(client: LanguageClient, root):
    code = GG204_CODE.replace("def _init_(self):", "def _init_(self):  # noqa: GG102, GG204")
    doc = Doc(client, root / "noqa.py", code).open()
    assert await doc.diagnostics() == []
    text = text_of(await doc.hover("GG204", 3))
    assert text.startswith("# GG204 `misspelled-init`")
    assert "## Use instead" in text
    hover = await doc.hover("GG204", 0)
    assert range_text(doc.text, hover.range) == "GG204"
    if get_rule("GG102") is not None:
        assert text_of(await doc.hover("GG102", 1)).startswith("# GG102 `stale-optimizer`")


async def test_hover_on_an_unknown_noqa_code(client: LanguageClient, root):
    code = "x = 1  # noqa: GG999\n"
    doc = Doc(client, root / "unknown.py", code).open()
    await doc.diagnostics()
    assert "not a GradGuard rule code" in text_of(await doc.hover("GG999", 1))


async def test_hover_on_an_optimizer_says_what_it_will_not_train(client: LanguageClient, root):
    if get_rule("GG102") is None:
        pytest.skip("GG102 is not in the engine yet")
    doc = Doc(client, root / "optimizer.py", GG102_CODE).open()
    assert "GG102" in codes(await doc.diagnostics())
    hover = await doc.hover("optimizer.step()", 2)
    text = text_of(hover)
    assert "`optimizer`: `torch.optim.SGD` optimizer" in text
    assert "built at line 15 from `model.parameters()`" in text
    assert "`model.fc` replaced at line 16 is not in it" in text
    assert range_text(doc.text, hover.range) == "optimizer"


async def test_hover_on_a_healthy_optimizer(client: LanguageClient, root):
    code = GG102_CODE.replace("model.fc = nn.Linear(4, 2)\n", "")
    doc = Doc(client, root / "healthy.py", code).open()
    await doc.diagnostics()
    text = text_of(await doc.hover("optimizer.zero_grad", 1))
    assert "built at line 15 from `model.parameters()`" in text
    assert "it trains the parameters of `model`" in text
    assert "not in it" not in text


async def test_hover_on_a_model_of_a_local_class(client: LanguageClient, root):
    doc = Doc(client, root / "model_local.py", GG102_CODE).open()
    await doc.diagnostics()
    text = text_of(await doc.hover("model = Net()", 1))
    assert "`model`: instance of `Net`" in text
    assert "class `Net` is defined at line 5 of this file" in text
    assert "optimizers holding its parameters: `optimizer` (line 15)" in text


async def test_hover_on_a_torch_layer(client: LanguageClient, root):
    code = "import torch\nfrom torch import nn\n\nlayer = nn.Linear(4, 2)\n"
    doc = Doc(client, root / "layer.py", code).open()
    await doc.diagnostics()
    text = text_of(await doc.hover("layer =", 1))
    assert "`layer`: instance of `torch.nn.Linear`" in text
    assert "no optimizer in this file holds its parameters" in text


async def test_hover_on_a_model_from_another_workspace_file(client: LanguageClient, root):
    """``Net`` lives in models.py: jedi (the resolver) tells the server what it is."""
    doc = Doc(client, root / "train.py", TRAIN).open()
    await doc.diagnostics()
    text = text_of(await doc.hover("model = Net()", 1))
    assert "`model`: instance of `models.Net`" in text
    assert "models.py" in text  # where jedi found the class
    assert "`optimizer` (line 7)" in text
    if get_rule("GG102") is not None:
        # Once jedi has answered, the re-published diagnostics know Net is a module.
        await wait_for(lambda: "GG102" in codes(list(client.diagnostics.get(doc.uri, []))))


async def test_hover_elsewhere_is_empty(client: LanguageClient, root):
    doc = Doc(client, root / "nothing.py", "import torch\n\nvalue = 3\n").open()
    await doc.diagnostics()
    assert await doc.hover("value", 1) is None


EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "train_loop.py").read_text()


async def test_hover_on_a_factory_built_model_names_what_it_returns(client: LanguageClient, root):
    """examples/train_loop.py: ``model = make_model()`` in ``train`` holds the
    ``nn.Sequential`` the factory returns (a function is not a class), and only the
    optimizer built from *its* parameters, not ``fine_tune``'s over its own ``model``."""
    doc = Doc(client, root / "train_loop.py", EXAMPLE).open()
    await doc.diagnostics()
    text = text_of(await doc.hover("model = make_model()", 1))
    assert text.startswith(
        "`model`: instance of `torch.nn.Sequential`, returned by `make_model()` (line 9)"
    )
    assert "instance of `make_model`" not in text
    assert "optimizers holding its parameters: `optimizer` (line 16)" in text
    assert "line 31" not in text
    # In fine_tune, ``model`` is a parameter: nothing in the file says what it holds.
    assert await doc.hover("cross_entropy(model(", 15) is None
    optimizer = text_of(await doc.hover("optimizer = Adam(", 2))
    assert "built at line 31 from `model.parameters()`" in optimizer


FACTORIES = textwrap.dedent(
    """\
    import torch
    import torchvision
    from torch import nn


    def build(kind):
        if kind == "small":
            return nn.Linear(4, 2)
        return nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))


    backbone = torchvision.models.resnet18()
    head = build("small")
    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model = nn.Linear(4, 2)
    """
)


async def test_hover_never_guesses_a_factory_class_or_a_rebound_models_optimizer(
    client: LanguageClient, root
):
    doc = Doc(client, root / "factories.py", FACTORIES).open()
    await doc.diagnostics()
    backbone = text_of(await doc.hover("backbone =", 1))
    assert backbone.startswith(
        "`backbone`: a module returned by `torchvision.models.resnet18()` (its class is not known"
    )
    head = text_of(await doc.hover("head =", 1))
    assert head.startswith("`head`: a module returned by `build()` (line 6)")
    assert "instance of" not in head
    first = text_of(await doc.hover("model = nn", 1))
    assert "optimizers holding its parameters: `optimizer` (line 15)" in first
    second = await doc.hover("model = nn", 1, occurrence=1)
    assert "no optimizer in this file holds its parameters" in text_of(second)


# Hovers read the semantic model: what a name holds at its line, through aliases and
# same-file helpers (issue 11).
ALIASES = textwrap.dedent(
    """\
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(x)


    def parameters_of(net):
        return net.parameters()


    def train(loader):
        model = Net()
        params = parameters_of(model)
        opt = torch.optim.SGD(params, lr=0.1)
        o = opt
        net = model
        for batch in loader:
            o.zero_grad()
            net(batch).sum().backward()
            o.step()
    """
)


async def test_hover_on_an_alias_reads_what_it_holds(client: LanguageClient, root):
    doc = Doc(client, root / "aliases.py", ALIASES).open()
    await doc.diagnostics()
    text = text_of(await doc.hover("o.step()", 0))
    assert text.startswith("`o` holds the same object as `opt`")
    assert "`opt`: `torch.optim.SGD` optimizer, built at line 21" in text
    net = text_of(await doc.hover("net(batch)", 0))
    assert net.startswith("`net` holds the same object as `model`")
    assert "`model`: instance of `Net`" in net


async def test_hover_on_a_model_lists_the_optimizer_built_from_a_helpers_parameters(
    client: LanguageClient, root
):
    """``params = parameters_of(model)``: only the semantic model's summary of the
    helper shows that ``opt`` holds ``model``'s parameters."""
    doc = Doc(client, root / "helper_parameters.py", ALIASES).open()
    await doc.diagnostics()
    text = text_of(await doc.hover("model = Net()", 1))
    assert "optimizers holding its parameters: `opt` (line 21)" in text


async def test_hover_on_a_rebound_alias_follows_its_binding(client: LanguageClient, root):
    code = ALIASES.replace("    o = opt\n", "    o = opt\n    o = None\n")
    doc = Doc(client, root / "rebound_alias.py", code).open()
    await doc.diagnostics()
    assert await doc.hover("o.step()", 0) is None  # `o` holds None there
    assert "`opt`: `torch.optim.SGD` optimizer" in text_of(await doc.hover("opt = torch", 1))


# The hover index's model bindings are the semantic model's: a constructor moved in
# the same statement, and a factory's module reached through a helper's parameters.
BUILT = textwrap.dedent(
    """\
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)


    def make_model():
        return nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))


    def parameters_of(net):
        return net.parameters()


    net = Net().to("cpu")
    net_optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    model = make_model()
    optimizer = torch.optim.SGD(parameters_of(model), lr=0.1)
    model = model.to("cpu")
    """
)


async def test_hover_on_a_model_built_and_moved_in_one_statement(client: LanguageClient, root):
    doc = Doc(client, root / "built_moved.py", BUILT).open()
    await doc.diagnostics()
    text = text_of(await doc.hover("net = Net()", 0))
    assert text.startswith("`net`: instance of `Net`")
    assert "class `Net` is defined at line 5 of this file" in text
    assert "optimizers holding its parameters: `net_optimizer` (line 20)" in text


async def test_hover_on_a_factory_model_lists_the_optimizer_over_a_helpers_parameters(
    client: LanguageClient, root
):
    doc = Doc(client, root / "factory_helper.py", BUILT).open()
    await doc.diagnostics()
    text = text_of(await doc.hover("model = make_model()", 0))
    assert text.startswith(
        "`model`: instance of `torch.nn.Sequential`, returned by `make_model()` (line 11)"
    )
    assert "optimizers holding its parameters: `optimizer` (line 22)" in text
    # ``model = model.to("cpu")`` is the same module, not a new binding of a factory's
    moved = text_of(await doc.hover('model = model.to("cpu")', 0))
    assert moved.startswith("`model`: instance of `torch.nn.Sequential`, returned by")
