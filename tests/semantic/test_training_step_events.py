"""The training-step event layer: "in this loop, these events run, in this order,
under these conditions", for the shapes real training code has."""

from __future__ import annotations

import ast
import textwrap

import pytest

from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.optimizers import OptimizerIndex
from gradguard.semantic.step_queries import accumulation_guard, mutually_exclusive
from gradguard.semantic.steps import TrainingSteps, training_steps
from gradguard.source import SourceFile

AMP_EPOCH = """
import torch
from torch import nn
from torch.optim.lr_scheduler import StepLR, ReduceLROnPlateau


def train_one_epoch(model, loader, optimizer, scheduler, scaler, args):
    model.train()
    for i, (x, y) in enumerate(loader):
        with torch.autocast("cuda"):
            loss = nn.functional.mse_loss(model(x), y)
        if args.amp:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        if (i + 1) % 4 == 0:
            optimizer.zero_grad()
        scheduler.step()


def validate(model, loader):
    model.eval()


model = nn.Linear(3, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
scheduler = StepLR(optimizer, 2)
plateau = ReduceLROnPlateau(optimizer)
scaler = torch.amp.GradScaler("cuda")
for epoch in range(3):
    train_one_epoch(model, loader, optimizer, scheduler, scaler, args)
    validate(model, loader)
    plateau.step(1.0)
"""


def _analysis(code: str) -> TrainingSteps:
    text = textwrap.dedent(code)
    facts = ModuleFacts(SourceFile(text, "train.py"), ast.parse(text))
    return training_steps(facts, OptimizerIndex(facts))


def _loop_at(analysis: TrainingSteps, line: int) -> ast.AST:
    return next(
        n for n in ast.walk(analysis.facts.tree) if isinstance(n, ast.For) and n.lineno == line
    )


def _summary(analysis: TrainingSteps, line: int) -> list[tuple]:
    return [
        (e.kind.value, e.target, e.scaler, e.call.lineno, tuple(g.part for g in e.guards))
        for e in analysis.region_events(_loop_at(analysis, line))
    ]


def test_batch_loop_events_in_order_with_their_branches():
    assert _summary(_analysis(AMP_EPOCH), 9) == [
        ("backward", "loss", "scaler", 13, ("body",)),
        ("unscale", "optimizer", "scaler", 14, ("body",)),
        ("clip", None, None, 15, ("body",)),
        ("step", "optimizer", "scaler", 16, ("body",)),
        ("scaler update", "scaler", "scaler", 17, ("body",)),
        ("backward", "loss", None, 19, ("orelse",)),
        ("step", "optimizer", None, 20, ("orelse",)),
        ("clear", "optimizer", None, 22, ("body",)),
        ("scheduler step", "scheduler", None, 23, ()),
    ]


def test_epoch_loop_follows_the_helpers_it_calls():
    analysis = _analysis(AMP_EPOCH)
    events = analysis.region_events(_loop_at(analysis, 35))
    kinds = [(e.kind.value, e.target, e.via_helper) for e in events]
    assert kinds[0] == ("train", "model", True)
    assert ("eval", "model", True) in kinds
    plateau = events[-1]
    assert plateau.kind.value == "scheduler step" and plateau.with_arguments
    assert plateau.scheduler is not None and plateau.scheduler.plateau
    inner = [e for e in events if e.kind.value == "step"]
    assert all("loop" in [g.part for g in e.guards] for e in inner)
    step_lr = next(e for e in events if e.target == "scheduler")
    assert step_lr.scheduler is not None and step_lr.scheduler.class_name == "StepLR"
    assert step_lr.scheduler.optimizer == "optimizer"


def test_branches_of_one_condition_are_mutually_exclusive():
    analysis = _analysis(AMP_EPOCH)
    events = analysis.region_events(_loop_at(analysis, 9))
    scaled, bare = events[0], events[6]
    assert mutually_exclusive(scaled, bare)
    assert not mutually_exclusive(scaled, events[-1])
    assert accumulation_guard(events[7]) is not None
    assert accumulation_guard(events[3]) is None


def test_two_ifs_with_the_same_test_are_correlated():
    analysis = _analysis(
        """
        for x, y in loader:
            loss = model(x).sum()
            if scaler is not None:
                scaler.scale(loss).backward()
            else:
                loss.backward()
            if scaler is None:
                optimizer.step()
            else:
                scaler.step(optimizer)
                scaler.update()
        """
    )
    events = analysis.region_events(_loop_at(analysis, 2))
    scaled, bare_step = events[0], events[2]
    assert (scaled.scaler, bare_step.kind.value, bare_step.scaler) == ("scaler", "step", None)
    assert mutually_exclusive(scaled, bare_step)
    assert not mutually_exclusive(scaled, events[3])


def test_trainer_class_attributes_and_accelerate_context():
    analysis = _analysis(
        """
        from accelerate import Accelerator
        import torch

        class Trainer:
            def __init__(self, model, args):
                self.model = model
                self.optimizer = torch.optim.AdamW(model.parameters())
                self.scheduler = torch.optim.lr_scheduler.OneCycleLR(self.optimizer, 1.0, 10)
                self.scaler = torch.cuda.amp.GradScaler(enabled=args.amp)
                self.accelerator = Accelerator(gradient_accumulation_steps=4)

            def fit(self, loader):
                for batch in loader:
                    with self.accelerator.accumulate(self.model):
                        loss = self.model(batch)
                        self.scaler.scale(loss).backward()
                        self.optimizer_step()

            def optimizer_step(self):
                self.scaler.step(self.optimizer)
                self.scaler.update()
                self.scheduler.step()
        """
    )
    events = analysis.region_events(_loop_at(analysis, 14))
    assert [(e.kind.value, e.target, e.scaler) for e in events] == [
        ("backward", "loss", "self.scaler"),
        ("step", "self.optimizer", "self.scaler"),
        ("scaler update", "self.scaler", "self.scaler"),
        ("scheduler step", "self.scheduler", None),
    ]
    assert all(
        ast.unparse(e.contexts[0]) == "self.accelerator.accumulate(self.model)" for e in events
    )
    assert analysis.roles.scaler("self.scaler").enabled is None
    assert analysis.roles.scheduler("self.scheduler").class_name == "OneCycleLR"
    assert analysis.roles.is_accelerator("self.accelerator")


@pytest.mark.parametrize(
    "construction, enabled",
    [
        ('torch.amp.GradScaler("cuda")', True),
        ("torch.cuda.amp.GradScaler(enabled=False)", False),
        ("torch.GradScaler(enabled=use_amp)", None),
    ],
)
def test_scaler_constructions(construction, enabled):
    analysis = _analysis(f"import torch\nscaler = {construction}\n")
    found = analysis.roles.scaler("scaler")
    assert found is not None and found.enabled is enabled


def test_names_bound_to_something_else_are_not_guessed():
    analysis = _analysis("scaler = None\nsched = make()\n")
    assert analysis.roles.scaler("scaler") is None
    assert analysis.roles.scheduler("sched") is None
    assert analysis.roles.scheduler("lr_scheduler") is not None  # a parameter, by its spelling


def test_a_scaler_that_may_be_none_is_still_a_scaler():
    analysis = _analysis(
        "import torch\nscaler = torch.amp.GradScaler('cuda') if args.amp else None\n"
        "sched = None if args.fixed else torch.optim.lr_scheduler.StepLR(opt, 3)\n"
    )
    assert analysis.roles.scaler("scaler") is not None
    assert analysis.roles.scheduler("sched").class_name == "StepLR"
