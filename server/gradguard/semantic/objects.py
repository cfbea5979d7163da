"""Abstract values: what a name may hold, as a set of abstract objects.

Each object is identified by its allocation site (the call or expression that made it),
so two names bound to one ``nn.Linear(...)`` hold the same object and a field written
through one is seen through the other. ``UNKNOWN`` in a value means "anything else":
rules treat a value holding it as not proven.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True)
class AbstractObject:
    site: ast.AST | None  # the allocation site; None for the singletons


@dataclass(frozen=True)
class InstanceObject(AbstractObject):
    """An instance of a same-file class that is not a module (a trainer, a wrapper):
    ``site`` is the call that made it, or the class itself for ``self`` in its methods."""

    class_name: str = ""


@dataclass(frozen=True)
class ModuleObject(AbstractObject):
    """An ``nn.Module``: a ``torch.nn`` layer (``class_name`` qualified, ``torch_layer``),
    an instance of a same-file class (``site`` the call, or the class for ``self``), or a
    model from a known factory (``timm.create_model``)."""

    class_name: str = ""
    torch_layer: bool = False

    @property
    def layer(self) -> str:
        """``Linear`` for ``torch.nn.Linear``."""
        return self.class_name.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class ParameterObject(AbstractObject):
    """A parameter: of ``owner`` (``model.fc.weight``, an element of
    ``model.parameters()``) or made by ``nn.Parameter(...)`` (no owner yet)."""

    owner: AbstractObject | None = None
    name: str = ""


@dataclass(frozen=True)
class ParameterIterable(AbstractObject):
    """``model.parameters()``, and lists built from such (``list(a.parameters()) +
    list(b.parameters())`` holds both owners). ``one_shot``: a generator, empty once
    consumed."""

    owners: frozenset[AbstractObject] = frozenset()
    one_shot: bool = True
    named: bool = False  # ``named_parameters()``: ``(name, parameter)`` pairs
    # Filtered on ``requires_grad`` (``[p for p in ... if p.requires_grad]``): no frozen ones.
    trainable: bool = False


@dataclass(frozen=True)
class OptimizerObject(AbstractObject):
    """An optimizer built at ``site`` from the parameter objects in ``params``."""

    params: frozenset[AbstractObject] = frozenset()


@dataclass(frozen=True)
class TensorObject(AbstractObject):
    """A tensor made at ``site``: a leaf or not, requiring grad or not (None: unknown)."""

    leaf: bool | None = None
    requires_grad: bool | None = None


@dataclass(frozen=True)
class _Singleton(AbstractObject):
    label: str = ""

    def __repr__(self) -> str:
        return self.label


NONE = _Singleton(None, "None")
UNKNOWN = _Singleton(None, "Unknown")

Value = frozenset[AbstractObject]
UNKNOWN_VALUE: Value = frozenset({UNKNOWN})
NONE_VALUE: Value = frozenset({NONE})
EMPTY: Value = frozenset()


def position(obj: AbstractObject) -> tuple[int, int]:
    site = obj.site
    return (getattr(site, "lineno", 0), getattr(site, "col_offset", 0))


def describe(value: Value) -> str:
    """A short text of the value for tests and hovers: ``Module(Net)``, ``Unknown``."""
    return " | ".join(sorted(_describe(obj) for obj in value)) or "nothing"


def _describe(obj: AbstractObject) -> str:
    if isinstance(obj, ModuleObject):
        return f"{'Layer' if obj.torch_layer else 'Module'}({obj.class_name})"
    if isinstance(obj, ParameterObject):
        owner = _describe(obj.owner) if obj.owner is not None else ""
        return f"Parameter({owner}{'.' if owner and obj.name else ''}{obj.name})"
    if isinstance(obj, ParameterIterable):
        owners = ", ".join(sorted(_describe(o) for o in obj.owners))
        return f"Parameters({owners})"
    if isinstance(obj, OptimizerObject):
        return f"Optimizer({describe(obj.params)})"
    if isinstance(obj, InstanceObject):
        return f"Instance({obj.class_name})"
    if isinstance(obj, TensorObject):
        return f"Tensor(leaf={obj.leaf}, requires_grad={obj.requires_grad})"
    return repr(obj)
