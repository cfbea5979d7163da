"""Classes of other workspace modules, summarised (``semantic/workspace_classes.py``): what a
trainer class's ``__init__`` keeps and builds, what each method replaces and whether it uses
or rebuilds the optimizer field, and the findings that follow in the importing script (GG102,
GG105) through ``WorkspaceOnlyResolver`` (by path, no jedi)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gradguard.engine import analyze
from gradguard.semantic.workspace import ClassSummary
from gradguard.workspace_modules import WorkspaceOnlyResolver, summarise_file

TRAINERS = """\
from torch import nn, optim


class Trainer:
    def __init__(self, model, optimizer=None, lr=0.1):
        self.model = model
        self.optimizer = optim.SGD(self.model.parameters(), lr=lr)

    def replace_head(self, classes):
        self.model.fc = nn.Linear(8, classes)

    def reset_optimizer(self):
        self.optimizer = optim.SGD(self.model.parameters(), lr=0.1)

    def fit(self, loader):
        for x, y in loader:
            self.step(x, y)

    def step(self, x, y):
        self.optimizer.zero_grad()
        nn.functional.cross_entropy(self.model(x), y).backward()
        self.optimizer.step()


class Surgeon:
    def replace_head(self, model, classes):
        model.fc = nn.Linear(8, classes)

    def to_device(self, model, device):
        model.to(device)


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 2)

    def swap(self):
        self.fc = nn.Linear(8, 3)
"""

SCRIPT = """\
import torch
from torch import nn, optim

from trainers import Surgeon, Trainer


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc(x)


model = Net()
{body}
"""
DATA = "[(torch.randn(2, 8), torch.randint(0, 3, (2,)))]"


def test_a_trainer_class_is_summarised_with_its_fields_and_methods(tmp_path: Path) -> None:
    (tmp_path / "trainers.py").write_text(TRAINERS)
    summary = summarise_file(str(tmp_path / "trainers.py"))
    assert summary is not None
    trainer = summary.functions["Trainer"]
    assert isinstance(trainer, ClassSummary)
    assert trainer.positional == ("model", "optimizer", "lr")
    assert trainer.fields == {"model": "model"}
    assert trainer.optimizer_fields["optimizer"].parameter == "model"
    replace = trainer.methods["replace_head"]
    assert replace.receiver == "self" and replace.positional == ("classes",)
    assert [(p.parameter, p.suffix) for p in replace.replaced] == [("self", ".model.fc")]
    assert trainer.methods["fit"].touch("optimizer") == "use"  # through self.step()
    assert trainer.methods["reset_optimizer"].touch("optimizer") == "rebuild"
    surgeon = summary.functions["Surgeon"]
    assert isinstance(surgeon, ClassSummary)
    assert [p.parameter for p in surgeon.methods["replace_head"].replaced] == ["model"]
    assert [m.parameter for m in surgeon.methods["to_device"].moves] == ["model"]
    head = summary.functions["Head"]
    assert isinstance(head, ClassSummary) and head.methods == {}  # a layer: not summarised


def _findings(tmp_path: Path, body: str) -> list[tuple[int, str]]:
    (tmp_path / "trainers.py").write_text(TRAINERS)
    text = SCRIPT.format(body=textwrap.dedent(body))
    result = analyze(
        text, str(tmp_path / "train.py"), resolver=WorkspaceOnlyResolver(str(tmp_path))
    )
    return [(f.span.start.line + 1, f.code) for f in result.findings]


def _line(body: str, text: str) -> int:
    return SCRIPT.format(body=textwrap.dedent(body)).splitlines().index(text) + 1


@pytest.mark.parametrize(
    ("body", "reported", "code"),
    [
        (
            f"trainer = Trainer(model)\ntrainer.model.fc = nn.Linear(8, 3)\ntrainer.fit({DATA})",
            "trainer.model.fc = nn.Linear(8, 3)",
            "GG102",
        ),
        (
            f"trainer = Trainer(model)\nmodel.fc = nn.Linear(8, 3)\ntrainer.fit({DATA})",
            "model.fc = nn.Linear(8, 3)",
            "GG102",
        ),
        (
            f"trainer = Trainer(model)\ntrainer.replace_head(3)\ntrainer.fit({DATA})",
            "trainer.replace_head(3)",
            "GG102",
        ),
        (
            f"trainer = Trainer(model)\nmodel.double()\ntrainer.fit({DATA})",
            "model.double()",
            "GG105",
        ),
        (
            "optimizer = optim.SGD(model.parameters())\nSurgeon().replace_head(model, 3)\n"
            "optimizer.step()",
            "Surgeon().replace_head(model, 3)",
            "GG102",
        ),
        (
            "optimizer = optim.Adam(model.parameters())\nhelper = Surgeon()\n"
            "helper.to_device(model, 'cpu')\noptimizer.step()",
            "helper.to_device(model, 'cpu')",
            "GG105",
        ),
    ],
    ids=["trainer-field", "model-name", "trainer-method", "cast", "helper-class", "helper-move"],
)
def test_findings_through_classes_of_another_module(tmp_path, body, reported, code) -> None:
    assert _findings(tmp_path, body) == [(_line(body, reported), code)]


@pytest.mark.parametrize(
    "body",
    [
        f"trainer = Trainer(model)\ntrainer.replace_head(3)\ntrainer.reset_optimizer()\n"
        f"trainer.fit({DATA})",
        f"model.fc = nn.Linear(8, 3)\ntrainer = Trainer(model)\ntrainer.fit({DATA})",
        "trainer = Trainer(model)\ntrainer.replace_head(3)",
        "Surgeon().replace_head(model, 3)\noptimizer = optim.SGD(model.parameters())\n"
        "optimizer.step()",
    ],
    ids=["rebuilt-after", "replaced-before", "never-fitted", "helper-before-optimizer"],
)
def test_negatives_through_classes_of_another_module(tmp_path, body) -> None:
    assert _findings(tmp_path, body) == []


def test_the_file_alone_knows_nothing_of_them(tmp_path: Path) -> None:
    (tmp_path / "trainers.py").write_text(TRAINERS)
    body = f"trainer = Trainer(model)\ntrainer.replace_head(3)\ntrainer.fit({DATA})"
    result = analyze(SCRIPT.format(body=body), str(tmp_path / "train.py"))
    assert result.findings == []
