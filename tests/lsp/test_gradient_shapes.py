"""Issue 11's GG301/GG303 shapes through the language server, as in the CLI."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from lsp_helpers import Doc, range_text
from pytest_lsp import LanguageClient

IN_SESSION = pytest.mark.asyncio(loop_scope="session")

SAMPLED_SUPERNET = textwrap.dedent(
    """\
    import random

    import torch
    from torch import nn


    class MixedOp(nn.Module):
        def __init__(self, channels):
            super().__init__()
            self.alpha = nn.Parameter(1e-3 * torch.randn(2))
            self.candidates = nn.ModuleList([nn.Conv2d(channels, channels, 3), nn.Identity()])

        def forward(self, x):
            if self.training and random.random() < 0.5:
                return self.candidates[random.randrange(2)](x)
            weights = torch.softmax(self.alpha, dim=0)
            return sum(w * op(x) for w, op in zip(weights, self.candidates))


    class SuperNet(nn.Module):
        def __init__(self, channels, depth):
            super().__init__()
            self.ops = nn.ModuleList([MixedOp(channels) for _ in range(depth)])

        def forward(self, x):
            for op in self.ops:
                x = op(x)
            return x

        def arch_grad_norm(self):
            return sum(op.alpha.grad.data.norm() for op in self.ops)
    """
)
MASKED_SGD = textwrap.dedent(
    """\
    import torch
    from torch import nn


    class MaskedLinear(nn.Module):
        def __init__(self, features):
            super().__init__()
            self.linear = nn.Linear(features, features)
            self.mask = nn.Parameter(torch.ones(features, features), requires_grad=False)

        def forward(self, x):
            return nn.functional.linear(x, self.linear.weight * self.mask, self.linear.bias)


    def train_one_epoch(model, loader, lr=0.01):
        for x, y in loader:
            model.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            with torch.no_grad():
                for param in model.parameters():
                    param -= lr * param.grad


    train_one_epoch(MaskedLinear(8), [])
    """
)


@pytest.fixture(scope="module")
def root(shared_root):
    return shared_root


@pytest.fixture
def client(shared_client: LanguageClient) -> LanguageClient:
    return shared_client


@IN_SESSION
async def test_a_sampled_path_parameter_in_the_editor(client: LanguageClient, root):
    doc = Doc(client, root / "supernet.py", SAMPLED_SUPERNET).open()
    (diagnostic,) = [d for d in await doc.diagnostics() if d.code == "GG301"]
    assert range_text(doc.text, diagnostic.range) == "op.alpha.grad.data"
    (related,) = diagnostic.related_information
    assert related.message == "`MixedOp.forward()` uses `self.alpha` only on some paths"
    assert range_text(doc.text, related.location.range).startswith("if self.training")


@IN_SESSION
async def test_grad_as_an_operand_in_the_editor(client: LanguageClient, root):
    doc = Doc(client, root / "masked.py", MASKED_SGD).open()
    (diagnostic,) = [d for d in await doc.diagnostics() if d.code == "GG301"]
    assert range_text(doc.text, diagnostic.range) == "lr * param.grad"
    assert "TypeError: unsupported operand type(s) for *" in diagnostic.message


def test_the_same_shapes_in_the_cli(tmp_path):
    (tmp_path / "supernet.py").write_text(SAMPLED_SUPERNET)
    (tmp_path / "masked.py").write_text(MASKED_SGD)
    result = subprocess.run(
        [sys.executable, "-m", "gradguard", "check", "--no-cache", "--no-resolve", "--select",
         "GG301", "--output-format", "concise", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )  # fmt: skip
    lines = sorted(line for line in result.stdout.splitlines() if "GG301" in line)
    assert len(lines) == 2, result.stdout + result.stderr
    assert lines[0].startswith(str(tmp_path / "masked.py") + ":21:")
    assert lines[1].startswith(str(tmp_path / "supernet.py") + ":31:")
