"""Asking jedi last: a rule computes what it would report, and only then asks the
question the report hinges on ("is ``Lamb`` an Optimizer?", "is ``Net`` a Module?").

For a rule whose findings are ``check() if holds() else nothing``, where ``check``
depends only on the file (not on state another candidate left behind), evaluating
``check`` first and ``holds`` only when it found something gives the same findings,
and asks nothing about the many candidates (classes, calls) that would report nothing
(docs/semantic-model.md, "Demand-driven resolution").

``check`` itself may ask: the semantic model evaluating a construction's argument asks
what the file's classes with imported bases are. A :class:`Probe` runs ``check`` first
on a copy of the file's facts whose resolver answers nothing: when nothing was asked
there, no answer can change what ``check`` found, and that is the finding (or not); when
something was, ``holds`` (one question) is asked first and ``check`` runs for real only
if it holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from gradguard.analysis.resolution import NoResolver, SymbolKind, SymbolResolver

if TYPE_CHECKING:
    from gradguard.analysis.facts import ModuleFacts

_Subject = TypeVar("_Subject")
_Found = TypeVar("_Found")


def reported_if(
    subject: _Subject,
    check: Callable[[_Subject], Iterable[_Found]],
    holds: Callable[[_Subject], bool],
    probe: Probe[_Subject, _Found] | None = None,
) -> Iterator[_Found]:
    """What ``check(subject)`` yields when ``holds(subject)``; ``holds`` is called only
    when ``check`` found something (or failed: asking first would then have failed the
    same way). With a ``probe``, ``check`` is first run where jedi is muted, and when
    it asks, ``holds`` goes first if it needs fewer new answers."""
    if probe is not None and probe.active:
        probed = probe.findings(subject)
        if probed is not None:
            if probed and holds(subject):
                yield from probed
            return
        if probe.holds_is_cheaper(subject):
            if holds(subject):
                yield from check(subject)
            return
    try:
        found = list(check(subject))
    except Exception:
        if holds(subject):
            yield from check(subject)  # what it yields before failing, then the failure
        return
    if found and holds(subject):
        yield from found


class MutedResolver:
    """Answers no question (unknown), and notes each one asked. Lookups that are not
    jedi's (``workspace_function``: another module's summary found by path) are the
    real resolver's."""

    def __init__(self, real: SymbolResolver) -> None:
        self._real = real
        self.asked: list[tuple[str, str]] = []

    def classify(self, qualified_name: str, path: str) -> SymbolKind | None:
        self.asked.append((qualified_name, path))
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class Probe(Generic[_Subject, _Found]):
    """``check`` run on a copy of the file's facts with jedi muted (``check_in(facts)``
    builds the check for a copy). Its findings are exact when it asked nothing: the
    copy's judgements were then the file's alone, which every answer agrees with. A copy
    that was asked something is not probed again (what it computed read "unknown"); it
    still estimates how many new answers ``holds`` (``holds_in(facts)``) needs."""

    def __init__(
        self,
        facts: ModuleFacts,
        check_in: Callable[[ModuleFacts], Callable[[_Subject], Iterable[_Found]]],
        holds_in: Callable[[ModuleFacts], Callable[[_Subject], bool]],
    ) -> None:
        self._facts = facts
        self._check_in = check_in
        self._holds_in = holds_in
        self._clean: tuple[MutedResolver, Callable[[_Subject], Iterable[_Found]]] | None = None
        self._estimator: tuple[MutedResolver, Callable[[_Subject], bool]] | None = None
        self._check_asked: list[tuple[str, str]] = []
        self.active = _worth_probing(facts)

    def _muted(self) -> tuple[MutedResolver, ModuleFacts]:
        resolver = MutedResolver(self._facts.resolver)
        return resolver, self._facts.with_resolver(resolver)

    def findings(self, subject: _Subject) -> list[_Found] | None:
        """``check(subject)``'s findings when no answer can change them, else None."""
        if self._clean is None:
            resolver, facts = self._muted()
            self._clean = resolver, self._check_in(facts)
        resolver, check = self._clean
        try:
            found: list[_Found] | None = list(check(subject))
        except Exception:
            found = None  # run for real: the same failure, where it belongs
        self._check_asked = resolver.asked
        if resolver.asked:
            self._clean = None
            return None
        return found

    def holds_is_cheaper(self, subject: _Subject) -> bool:
        """Whether ``holds(subject)`` needs fewer answers not known yet than the check
        the last :meth:`findings` call ran (a tie goes to the check: its names, such as
        a library's layers, come back in other files; a construction's rarely do)."""
        if self._estimator is None:
            resolver, facts = self._muted()
            self._estimator = resolver, self._holds_in(facts)
        resolver, holds = self._estimator
        resolver.asked = []
        try:
            holds(subject)
        except Exception:
            return False
        return _unknown(self._facts, resolver.asked) < _unknown(self._facts, self._check_asked)


def _unknown(facts: ModuleFacts, asked: list[tuple[str, str]]) -> int:
    """How many of the names asked the resolver cannot answer without jedi."""
    knows = getattr(facts.resolver, "knows", None)
    names = set(asked)
    return sum(1 for name in names if not knows(*name)) if knows else len(names)


def _worth_probing(facts: ModuleFacts) -> bool:
    """Only where a resolver would be asked, and not in the editor's incremental
    analysis (its read sets are kept on the facts the rules see)."""
    if isinstance(facts.resolver, (NoResolver, MutedResolver)):
        return False
    from gradguard.semantic.reads import ReadLog  # the editor's; it builds on the facts

    return ReadLog.of(facts) is None
