"""What GradGuard knows about PyTorch names without asking jedi."""

from __future__ import annotations

import re
from functools import lru_cache

from gradguard.semantic.catalogue.tensors import MOVE_AND_CAST_METHODS

# torch.optim members that are not optimizers.
_OPTIM_NON_OPTIMIZERS = {"lr_scheduler", "swa_utils", "Optimizer"}
# Third-party optimizer packages: any capitalised class they export is an optimizer.
_THIRD_PARTY_OPTIMIZER_PREFIXES = (
    "torch_optimizer.",
    "bitsandbytes.optim.",
    "apex.optimizers.",
    "timm.optim.",
    "lion_pytorch.",
    "transformers.optimization.",
    "transformers.AdamW",
    "transformers.Adafactor",
    "deepspeed.ops.adam.",
)
_THIRD_PARTY_NON_OPTIMIZERS = re.compile(r"(Scheduler|Schedule|Lookahead_?Wrapper|create_\w+)$")


def is_optimizer_qualname(qualified: str) -> bool:
    parts = qualified.split(".")
    if parts[:2] == ["torch", "optim"] and len(parts) >= 3:
        if any(part in _OPTIM_NON_OPTIMIZERS for part in parts[2:-1]):
            return False
        last = parts[-1]
        return last[:1].isupper() and last not in _OPTIM_NON_OPTIMIZERS
    if qualified.startswith(_THIRD_PARTY_OPTIMIZER_PREFIXES):
        last = parts[-1]
        return last[:1].isupper() and not _THIRD_PARTY_NON_OPTIMIZERS.search(last)
    return False


# torch.nn members that are capitalised but are not modules.
_NN_NON_MODULES = {"Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer", "Module"}


def is_module_class_qualname(qualified: str) -> bool:
    """A ``torch.nn`` layer class (``torch.nn.Linear``, ``torch.nn.modules.conv.Conv2d``)."""
    parts = qualified.split(".")
    if parts[:2] != ["torch", "nn"] or len(parts) < 3:
        return False
    if len(parts) > 3 and parts[2] != "modules":
        return False
    last = parts[-1]
    return last[:1].isupper() and last not in _NN_NON_MODULES


def is_module_base_qualname(qualified: str) -> bool:
    """A class that user modules subclass (``nn.Module`` and the layer classes)."""
    return qualified in ("torch.nn.Module", "torch.nn.modules.module.Module") or (
        is_module_class_qualname(qualified)
    )


def is_optimizer_base_qualname(qualified: str) -> bool:
    return qualified in ("torch.optim.Optimizer", "torch.optim.optimizer.Optimizer") or (
        is_optimizer_qualname(qualified)
    )


_MODEL_FACTORY_PATTERNS = (
    re.compile(r"^torchvision\.models\.([a-z_0-9]+\.)?[a-z][a-z_0-9]*$"),
    re.compile(r"^timm\.create_model$"),
    re.compile(r"^transformers\..*\.from_pretrained$"),
    re.compile(r"^transformers\..*\.from_config$"),
    re.compile(r"^copy\.deepcopy$"),
)


@lru_cache(maxsize=4096)
def is_model_factory_qualname(qualified: str) -> bool:
    """A function known to return an ``nn.Module`` (torchvision, timm, transformers)."""
    if qualified == "copy.deepcopy":
        return False  # returns whatever it copies; handled by the callers that care
    if qualified.startswith("torchvision.models.") and qualified.rsplit(".", 1)[-1] in {
        "get_model_weights",
        "get_weight",
        "list_models",
    }:
        return False
    return any(p.match(qualified) for p in _MODEL_FACTORY_PATTERNS)


# Parameter names that torch.nn layers register.
_LAYER_PARAMETER_NAME = re.compile(
    r"^(weight|bias|in_proj_weight|in_proj_bias|q_proj_weight|k_proj_weight|v_proj_weight"
    r"|bias_k|bias_v|(weight|bias)_(ih|hh|hr)_l\d+(_reverse)?)$"
)


def is_layer_parameter_name(name: str) -> bool:
    return bool(_LAYER_PARAMETER_NAME.match(name))


# Constructor flags that, when False, leave these parameters as None.
OPTIONAL_PARAMETER_FLAGS: dict[str, tuple[str, ...]] = {
    "bias": ("bias",),
    "affine": ("weight", "bias"),
    "elementwise_affine": ("weight", "bias"),
}

# Module methods that move or cast parameters in place (identity kept on current torch).
MOVE_METHODS = MOVE_AND_CAST_METHODS
