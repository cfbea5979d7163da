"""How this file spells a torch name, for the text fixes write: ``torch.nn`` is ``nn``
or an alias, ``torch.no_grad()`` may be ``no_grad()`` after a ``from`` import."""

from __future__ import annotations

from gradguard.analysis.facts import ModuleFacts


def local_name_for(facts: ModuleFacts, qualified: str) -> str | None:
    """How the file spells ``qualified`` (``torch.nn`` -> ``nn``, ``tnn``, or
    ``torch.nn`` when only ``torch`` is imported); None when it cannot. The longest
    imported prefix wins; among several names for it, :func:`_aliases_of` decides."""
    parts = qualified.split(".")
    for size in range(len(parts), 0, -1):
        aliases = _aliases_of(facts, ".".join(parts[:size]))
        if aliases:
            return ".".join([aliases[0], *parts[size:]])
    return None


def torch_name(facts: ModuleFacts) -> str | None:
    """The local name bound to the ``torch`` package (``torch``, ``T``), if any."""
    return local_name_for(facts, "torch")


def no_grad_call(facts: ModuleFacts) -> str | None:
    """``torch.no_grad()`` spelled the way this file can call it (``no_grad()`` after
    ``from torch import no_grad`` or ``from torch.autograd import no_grad``), or None."""
    for qualified in ("torch.no_grad", "torch.autograd.no_grad"):
        aliases = _aliases_of(facts, qualified)
        if aliases:
            return f"{aliases[0]}()"
    torch = torch_name(facts)
    return f"{torch}.no_grad()" if torch else None


def _aliases_of(facts: ModuleFacts, qualified: str) -> list[str]:
    """The local names bound to exactly ``qualified``, best first: the one spelled like
    its last part (``torch`` for ``torch``, ``nn`` for ``torch.nn``), then by name."""
    last = qualified.rpartition(".")[2]
    names = [local for local, target in facts.imports.aliases.items() if target == qualified]
    return sorted(names, key=lambda local: (local != last, local))
