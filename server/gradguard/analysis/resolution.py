"""The question the engine asks when the file alone cannot tell what a name is.

The jedi-backed answer lives in :mod:`gradguard.resolver`; rules never call jedi
themselves. ``None`` always means "unknown": rules then stay silent rather than
guess.
"""

from __future__ import annotations

import enum
from typing import Protocol


class SymbolKind(str, enum.Enum):
    MODULE_CLASS = "module_class"  # a torch.nn.Module subclass
    OPTIMIZER_CLASS = "optimizer_class"  # a torch.optim.Optimizer subclass
    MODULE_FACTORY = "module_factory"  # a function that returns a module
    OTHER = "other"


class SymbolResolver(Protocol):
    def classify(self, qualified_name: str, path: str) -> SymbolKind | None:
        """What ``qualified_name`` (as imported by the file at ``path``) is."""
        ...


class NoResolver:
    """Answers nothing: the fast path that uses only the file itself."""

    def classify(self, qualified_name: str, path: str) -> SymbolKind | None:
        return None
