"""Training-step facts: schedulers, gradient scalers, clipping, grad-mode contexts.

Measured on torch 2.13.0 (``shared/pytorch-facts-training-loop.md``): every class
listed here exists under these names, ``torch.GradScaler is torch.amp.GradScaler``,
``torch.cuda.amp.GradScaler`` subclasses it, and ``ReduceLROnPlateau.step`` has no
ordering check (it needs a metric and shifts nothing).
"""

from __future__ import annotations

import enum

_LR_SCHEDULER = "torch.optim.lr_scheduler."


class SchedulerCadence(str, enum.Enum):
    """How often a scheduler is meant to step."""

    PER_EPOCH = "per epoch"
    PER_BATCH = "per batch"  # OneCycleLR, CyclicLR: the schedule counts batches
    EITHER = "either"  # LambdaLR and friends: the user's count decides
    ON_METRIC = "on a metric"  # ReduceLROnPlateau.step(metric)


# torch.optim.lr_scheduler classes (torch 2.13.0) and their intended cadence.
SCHEDULER_CLASSES: dict[str, SchedulerCadence] = {
    "LambdaLR": SchedulerCadence.EITHER,
    "MultiplicativeLR": SchedulerCadence.EITHER,
    "StepLR": SchedulerCadence.PER_EPOCH,
    "MultiStepLR": SchedulerCadence.PER_EPOCH,
    "ConstantLR": SchedulerCadence.EITHER,
    "LinearLR": SchedulerCadence.EITHER,
    "ExponentialLR": SchedulerCadence.PER_EPOCH,
    "PolynomialLR": SchedulerCadence.EITHER,
    "CosineAnnealingLR": SchedulerCadence.EITHER,
    "CosineAnnealingWarmRestarts": SchedulerCadence.EITHER,
    "CyclicLR": SchedulerCadence.PER_BATCH,
    "OneCycleLR": SchedulerCadence.PER_BATCH,
    "SequentialLR": SchedulerCadence.EITHER,
    "ChainedScheduler": SchedulerCadence.EITHER,
    "ReduceLROnPlateau": SchedulerCadence.ON_METRIC,
}
# Base classes a same-file scheduler subclasses to get torch's stepping semantics.
SCHEDULER_BASES = frozenset(
    {_LR_SCHEDULER + "LRScheduler", _LR_SCHEDULER + "_LRScheduler"}
    | {_LR_SCHEDULER + name for name in SCHEDULER_CLASSES}
)
# Functions that return a torch LambdaLR (so they step like one).
SCHEDULER_FACTORIES = frozenset(
    {
        "transformers.get_scheduler",
        "transformers.get_linear_schedule_with_warmup",
        "transformers.get_cosine_schedule_with_warmup",
        "transformers.get_cosine_with_hard_restarts_schedule_with_warmup",
        "transformers.get_polynomial_decay_schedule_with_warmup",
        "transformers.get_constant_schedule",
        "transformers.get_constant_schedule_with_warmup",
        "transformers.optimization.get_scheduler",
        "transformers.optimization.get_linear_schedule_with_warmup",
        "transformers.optimization.get_cosine_schedule_with_warmup",
        "transformers.optimization.get_constant_schedule_with_warmup",
    }
)


def scheduler_class(qualified: str) -> str | None:
    """``"StepLR"`` for ``torch.optim.lr_scheduler.StepLR``; None for other names."""
    if qualified.startswith(_LR_SCHEDULER):
        name = qualified[len(_LR_SCHEDULER) :]
        return name if name in SCHEDULER_CLASSES else None
    if qualified in SCHEDULER_FACTORIES:
        return "LambdaLR"
    return None


def is_plateau(class_name: str | None) -> bool:
    return class_name == "ReduceLROnPlateau"


# GradScaler classes: one state machine (torch/amp/grad_scaler.py), every message the
# same (torch.cuda.amp.GradScaler is a thin, deprecated subclass).
GRAD_SCALER_CLASSES = frozenset(
    {
        "torch.GradScaler",
        "torch.amp.GradScaler",
        "torch.amp.grad_scaler.GradScaler",
        "torch.cuda.amp.GradScaler",
        "torch.cuda.amp.grad_scaler.GradScaler",
        "torch.cpu.amp.GradScaler",
        "torch.distributed.fsdp.sharded_grad_scaler.ShardedGradScaler",
    }
)
# The scaler's methods the step layer follows.
SCALER_SCALE = "scale"
SCALER_STEP = "step"
SCALER_UPDATE = "update"
SCALER_UNSCALE = "unscale_"
# The default initial scale (GradScaler(init_scale=65536.0)).
DEFAULT_SCALE = 65536

# Functions that clip gradients in place (torch.nn.utils, torch 2.13.0). They do not
# unscale: Accelerate's ``accelerator.clip_grad_norm_`` does, and is not listed.
CLIP_FUNCTIONS = frozenset(
    {
        f"torch.nn.utils.{name}"
        for name in (
            "clip_grad_norm_",
            "clip_grad_norm",
            "clip_grad_value_",
            "clip_grads_with_norm_",
        )
    }
    | {
        f"torch.nn.utils.clip_grad.{name}"
        for name in (
            "clip_grad_norm_",
            "clip_grad_norm",
            "clip_grad_value_",
            "clip_grads_with_norm_",
        )
    }
)

# Context managers and decorators that turn gradient recording off; ``enable_grad``
# turns it back on inside them. ``set_grad_enabled`` depends on its argument.
NO_GRAD_CONTEXTS = frozenset({"torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad"})
ENABLE_GRAD_CONTEXTS = frozenset({"torch.enable_grad", "torch.autograd.enable_grad"})
SET_GRAD_ENABLED = frozenset({"torch.set_grad_enabled", "torch.autograd.set_grad_enabled"})
AUTOCAST_CONTEXTS = frozenset(
    {"torch.autocast", "torch.amp.autocast", "torch.cuda.amp.autocast", "torch.cpu.amp.autocast"}
)
# Module methods that switch training mode (``train(False)`` is ``eval()``).
MODE_METHODS = frozenset({"train", "eval"})
