"""Asking jedi last: a rule computes what it would report, and only then asks the
question the report hinges on ("is ``Lamb`` an Optimizer?", "is ``Net`` a Module?").

For a rule whose findings are ``check() if holds() else nothing``, where ``check``
depends only on the file (not on state another candidate left behind), evaluating
``check`` first and ``holds`` only when it found something gives the same findings,
and asks nothing about the many candidates (classes, calls) that would report nothing
(docs/semantic-model.md, "Demand-driven resolution").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

_Subject = TypeVar("_Subject")
_Found = TypeVar("_Found")


def reported_if(
    subject: _Subject,
    check: Callable[[_Subject], Iterable[_Found]],
    holds: Callable[[_Subject], bool],
) -> Iterator[_Found]:
    """What ``check(subject)`` yields when ``holds(subject)``; ``holds`` is called only
    when ``check`` found something (or failed: asking first would then have failed the
    same way)."""
    try:
        found = list(check(subject))
    except Exception:
        if holds(subject):
            yield from check(subject)  # what it yields before failing, then the failure
        return
    if found and holds(subject):
        yield from found
