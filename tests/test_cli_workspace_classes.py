"""``gradguard check`` on trainers: a same-file trainer class is followed in both modes
(the file alone suffices), a trainer class of another workspace module only with the
resolver on (the default); ``--no-resolve`` uses the file alone, as its help says."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradguard.cli import main

TRAINER = """\
from torch import nn, optim


class Finetuner:
    def __init__(self, model, lr=1e-3):
        self.model = model
        self.optimizer = optim.AdamW(self.model.parameters(), lr=lr)

    def replace_head(self, num_classes):
        self.model.fc = nn.Linear(self.model.fc.in_features, num_classes)

    def fit(self, loader):
        for x, y in loader:
            self.optimizer.zero_grad()
            nn.functional.cross_entropy(self.model(x), y).backward()
            self.optimizer.step()
"""

SCRIPT = """\
import torch
from torch import nn
from trainer import Finetuner


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(8, 8)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc(self.body(x))


tuner = Finetuner(Net())
tuner.replace_head(4)
tuner.fit([(torch.randn(2, 8), torch.randint(0, 4, (2,)))])
"""


SAME_FILE = TRAINER + SCRIPT.replace("from trainer import Finetuner\n", "")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "trainer.py").write_text(TRAINER)
    (root / "train.py").write_text(SCRIPT)
    (root / "single.py").write_text(SAME_FILE)
    monkeypatch.setenv("GRADGUARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(root)
    return root


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    main(["check", "--no-cache", "--format", "concise", *args])
    return [line for line in capsys.readouterr().out.splitlines() if ": GG" in line]


def _line(text: str, code: str) -> int:
    return text.splitlines().index(code) + 1


def test_check_follows_the_trainer_class_of_another_module(project, capsys) -> None:
    found = _check(capsys, ".")
    call = _line(SCRIPT, "tuner.replace_head(4)")
    same = _line(SAME_FILE, "tuner.replace_head(4)")
    assert [line.split(" [")[0] for line in found] == [
        f"single.py:{same}:1: GG102",
        f"train.py:{call}:1: GG102",
    ]
    assert "`tuner.replace_head()` replaces `tuner.model.fc` (trainer.py line 10)" in found[1]
    assert "`Finetuner.__init__()`" in found[0]


def test_no_resolve_keeps_the_same_file_trainer_only(project, capsys) -> None:
    found = _check(capsys, "--no-resolve", ".")
    assert [line.split(":")[0] for line in found] == ["single.py"]
