"""Answers memoised per file that the editor's read log must see again when reused.

The evaluator keeps its own memo with the reads of each answer
(:mod:`gradguard.semantic.reads`); the older helpers of ``analysis/`` keep theirs in
plain dicts (``facts.returns_module``, a class's kind). :func:`memoised` is that dict
with the same bookkeeping: while reads are recorded, computing an answer records what
it read, and a later use brings those reads to its reader too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from gradguard.analysis.facts import ModuleFacts

_T = TypeVar("_T")


def memoised(
    facts: ModuleFacts, cache: dict[Any, Any], key: Hashable, compute: Callable[[], _T]
) -> _T:
    """``cache[key]``, computed by ``compute()`` on first use."""
    from gradguard.semantic.reads import ReadLog  # semantic imports analysis

    log = ReadLog.of(facts)
    if key in cache:
        if log is not None:
            log.replay(("memo", id(cache), key))
        return cache[key]  # type: ignore[no-any-return]
    if log is None:
        cache[key] = compute()
        return cache[key]  # type: ignore[no-any-return]
    log.begin()
    try:
        cache[key] = compute()
    finally:
        log.end(("memo", id(cache), key))
    return cache[key]  # type: ignore[no-any-return]


def attributed(
    facts_of: Callable[[Any], ModuleFacts],
) -> Callable[[Callable[..., _T]], Callable[..., _T]]:
    """A method ``(self, node, ...)`` whose reads are those of ``node``'s top-level
    statement (the editor's read log): ``facts_of(self)`` gives the file's facts."""

    def decorate(method: Callable[..., _T]) -> Callable[..., _T]:
        @functools.wraps(method)
        def wrapper(self: Any, node: Any, *args: Any, **kwargs: Any) -> _T:
            from gradguard.semantic.reads import ReadLog

            log = ReadLog.of(facts_of(self))
            if log is None:
                return method(self, node, *args, **kwargs)
            with log.reading(node):
                return method(self, node, *args, **kwargs)

        return wrapper

    return decorate
