"""The model's answers behind GG301's issue-11 shapes, tested once here (not per rule)."""

import ast
import textwrap

import pytest

from gradguard.analysis.facts import ModuleFacts
from gradguard.semantic.model import SemanticModel
from gradguard.semantic.objects import ParameterIterable, describe

OPS = """
import torch
from torch import nn


class Cell(nn.Module):
    def __init__(self):
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(2))
        self.conv = nn.Conv2d(4, 4, 3)

    def forward(self, x):
{forward}


class Net(nn.Module):
    def __init__(self, depth):
        super().__init__()
        self.cells = nn.ModuleList([Cell() for _ in range(depth)])

    def norms(self):
        return [cell.alpha.grad for cell in self.cells]
"""


def model_of(code: str) -> tuple[SemanticModel, ast.Module]:
    from gradguard.source import SourceFile

    text = textwrap.dedent(code)
    tree = ast.parse(text)
    return SemanticModel.of(ModuleFacts(SourceFile(text, "train.py"), tree)), tree


def grad_owner(tree: ast.Module) -> ast.expr:
    """``cell.alpha`` of the one ``cell.alpha.grad`` in the file."""
    (grad,) = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "grad"]
    return grad.value


def test_a_comprehension_binds_the_elements_of_a_module_list_built_by_one():
    semantic, tree = model_of(OPS.format(forward="        return self.conv(x) * self.alpha[0]"))
    owner = grad_owner(tree)
    assert describe(semantic.value_of(owner.value)) == "Module(Cell)"
    assert describe(semantic.value_of(owner)) == "Parameter()"


@pytest.mark.parametrize(
    ("forward", "gap"),
    [
        ("        return self.conv(x) * self.alpha[0]", None),
        ("        return self.conv(x)", "`Cell.forward()` never uses `self.alpha`"),
        (
            "        if self.training:\n            return self.conv(x)\n"
            "        return self.conv(x) * self.alpha[0]",
            "`Cell.forward()` uses `self.alpha` only on some paths",
        ),
        (
            "        y = self.conv(x)\n        return y * self.alpha[0] if self.training else y",
            "`Cell.forward()` uses `self.alpha` only on some paths",
        ),
        # An early `raise` is no path to a loss: the read after it always runs.
        (
            "        if x.dim() != 4:\n            raise ValueError(x.shape)\n"
            "        return self.conv(x) * self.alpha[0]",
            None,
        ),
    ],
)
def test_field_gap(forward, gap):
    semantic, tree = model_of(OPS.format(forward=forward))
    found = semantic.field_gap(grad_owner(tree))
    assert (found.reason if found else None) == gap


@pytest.mark.parametrize(
    ("params", "trainable"),
    [
        ("model.parameters()", False),
        ("[p for p in model.parameters() if p.requires_grad]", True),
        ("filter(lambda p: p.requires_grad, model.parameters())", True),
        ("list(filter(lambda p: p.requires_grad, model.parameters()))", True),
        ("[p for p in model.parameters() if p.dim() > 1]", False),
    ],
)
def test_parameters_filtered_on_requires_grad_are_trainable_only(params, trainable):
    semantic, tree = model_of(f"from torch import nn\nmodel = nn.Linear(2, 2)\nparams = {params}\n")
    value = semantic.value_of(tree.body[-1].value)
    (iterable,) = value
    assert isinstance(iterable, ParameterIterable) and iterable.trainable is trainable
