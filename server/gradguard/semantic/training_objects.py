"""Abstract objects of the training step besides models and optimizers: GradScalers,
learning-rate schedulers, accelerate's ``Accelerator``.

``made_by(facts, call)`` says which one a call makes (the one place that reads the
constructor: ``enabled=`` of a GradScaler, the scheduler's class and optimizer). The
evaluator gives these objects to names, so a scaler built by a helper (``scaler =
make_scaler(args)``) or reached through an alias is known like one built in place.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from gradguard.analysis import flow
from gradguard.analysis.facts import ModuleFacts
from gradguard.semantic.catalogue import training
from gradguard.semantic.objects import AbstractObject


@dataclass(frozen=True)
class ScalerObject(AbstractObject):
    # True/False when the constructor's ``enabled=`` is a literal; None when unknown.
    enabled: bool | None = True

    def __repr__(self) -> str:
        return f"GradScaler(enabled={self.enabled})"


@dataclass(frozen=True)
class SchedulerObject(AbstractObject):
    # ``"StepLR"``; None when the class is not one of torch's.
    class_name: str | None = None
    # The optimizer the constructor was given (its dotted name), when it is a name.
    optimizer: str | None = None
    # False for a same-file or third-party class that does not step like torch's.
    torch_semantics: bool = True

    def __repr__(self) -> str:
        return f"Scheduler({self.class_name or 'unknown class'}, optimizer={self.optimizer})"


@dataclass(frozen=True)
class AcceleratorObject(AbstractObject):
    """An ``accelerate.Accelerator(...)``."""

    def __repr__(self) -> str:
        return "Accelerator"


def made_by(facts: ModuleFacts, call: ast.Call, qualified: str) -> AbstractObject | None:
    """The scaler, scheduler or accelerator ``call`` (of ``qualified``) makes, if any
    (same-file classes are left to the caller: they are instances first)."""
    if qualified in training.GRAD_SCALER_CLASSES:
        return scaler_made_by(call)
    if qualified.startswith("accelerate."):
        return AcceleratorObject(call) if qualified.endswith(".Accelerator") else None
    return scheduler_made_by(facts, call, qualified)


def scaler_made_by(call: ast.Call) -> ScalerObject:
    for keyword in call.keywords:
        if keyword.arg == "enabled":
            value = keyword.value
            if isinstance(value, ast.Constant) and isinstance(value.value, bool):
                return ScalerObject(call, value.value)
            return ScalerObject(call, None)
    return ScalerObject(call, True)


def scheduler_made_by(facts: ModuleFacts, call: ast.Call, qualified: str) -> SchedulerObject | None:
    optimizer = flow.dotted_name(call.args[0]) if call.args else None
    for keyword in call.keywords:
        if keyword.arg == "optimizer":
            optimizer = flow.dotted_name(keyword.value)
    func = call.func
    if isinstance(func, ast.Name) and func.id in facts.classes:
        info = facts.classes[func.id]
        torch_like = any(b in training.SCHEDULER_BASES for b in info.base_names)
        return SchedulerObject(call, None, optimizer, torch_semantics=torch_like)
    class_name = training.scheduler_class(qualified)
    if class_name is not None:
        return SchedulerObject(call, class_name, optimizer)
    last = qualified.rsplit(".", 1)[-1]
    if last and ("schedul" in last.lower() or last.endswith("LR")):
        # A scheduler from elsewhere (timm, a workspace module): not torch's semantics.
        torch_semantics = qualified.startswith("torch.")
        return SchedulerObject(call, None, optimizer, torch_semantics=torch_semantics)
    return None
