"""jedi in the background: one resolver per workspace folder and environment, and
what its late answers change.

The keystroke path reads jedi's cache only. An answer that lands later bumps the
*epoch* of each open target whose analysis (cached or in flight) asked about the
name, and those targets are analysed again; the names answered per epoch tell the
incremental analysis what to look at again besides the edit.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from gradguard.analysis.resolution import SymbolResolver
from gradguard.answers import AnswerStore
from gradguard.lsp.settings import Settings
from gradguard.lsp.worker import RecordingResolver

log = logging.getLogger(__name__)

#: Seconds over which a burst of answers is coalesced into one re-analysis per target.
COALESCE_S = 0.05


class JediAnswers:
    def __init__(
        self,
        report_problems: Callable[[list[str]], None],
        reanalyse: Callable[[list[str]], None],
        cached_questions: Callable[[], Iterable[tuple[str, frozenset[str]]]],
    ) -> None:
        """``cached_questions()``: (target, the names its cached analysis asked) for
        each open target; ``reanalyse(targets)`` after answers changed them."""
        self.loop: asyncio.AbstractEventLoop | None = None
        self._cached_questions = cached_questions
        self._report_problems = report_problems
        self._reanalyse = reanalyse
        self._resolvers: dict[tuple[Any, ...], Any] = {}
        self.refresh_pending = False
        self.answered: set[str] = set()  # names answered since the last refresh
        self.epochs: dict[str, int] = {}  # target -> resolver epoch (bumped by answers)
        # target -> {epoch: the names whose answers bumped the epoch to it}
        self.answers_at: dict[str, dict[int, set[str]]] = {}
        self.in_flight: dict[str, list[RecordingResolver]] = {}
        # Resolvers whose warm-up (0.5-1 s of jedi loading torch) waits until the first
        # analysis has ended: on the same GIL it would slow the first diagnostics.
        self._cold: list[Any] = []

    def resolver_for(self, root: str | None, settings: Settings) -> SymbolResolver | None:
        if not root:
            return None
        key = (root, settings.interpreter, settings.extra_paths)
        if key not in self._resolvers:
            self._resolvers[key] = self._start_resolver(root, settings)
        resolver: SymbolResolver | None = self._resolvers[key]
        return resolver

    def _start_resolver(self, root: str, settings: Settings) -> Any:
        try:
            from gradguard.resolver import JediResolver  # jedi stays out of the engine
        except ImportError as error:
            log.warning("jedi resolver unavailable: %s", error)
            return None
        extra_paths = tuple(str(Path(root, p)) for p in settings.extra_paths)
        try:
            resolver = JediResolver(
                root,
                environment_path=settings.interpreter,
                extra_paths=extra_paths,
                timeout=0.0,  # cache-only reads: the keystroke path never waits on jedi
                mode="nonblocking",
                store=AnswerStore.default(),  # answers of earlier sessions, while valid
            )
        except Exception as error:  # a bad interpreter: the file-only analysis still works
            if settings.interpreter is None:
                log.warning("jedi resolver unavailable for %s: %s", root, error)
            else:
                self._report_problems(
                    [
                        f"settings: gradguard.interpreter: {settings.interpreter!r} is not a "
                        f"usable Python environment ({error}); resolving without jedi"
                    ]
                )
            return None
        resolver.on_resolved = self._resolved_from_thread
        self._cold.append(resolver)
        return resolver

    def _warm_up_cold(self) -> None:
        cold, self._cold = self._cold, []
        for resolver in cold:
            threading.Thread(
                target=_warm_up, args=(resolver,), name="gradguard-jedi-warm-up", daemon=True
            ).start()

    def _resolved_from_thread(self, qualified_name: Any = None, *args: Any) -> None:
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.resolved, qualified_name)

    def resolved(self, qualified_name: Any = None) -> None:
        """A late jedi answer: re-analyse only the targets whose analysis (cached
        or in flight) asked about that name. Answers land in bursts: they are
        coalesced into one re-analysis per target. The settings generation is not
        bumped, so an analysis in flight for the newest version is still published
        (then the refined one)."""
        if self.loop is None:
            return
        # An unknown name: every target may depend on it.
        self.answered.add(qualified_name if isinstance(qualified_name, str) else "*")
        if self.refresh_pending:
            return
        self.refresh_pending = True
        self.loop.call_later(COALESCE_S, self.refresh_answered)

    def refresh_answered(self) -> None:
        self.refresh_pending = False
        names, self.answered = self.answered, set()
        affected = self.affected_by(names)
        for key in affected:
            epoch = self.epochs[key] = self.epochs.get(key, 0) + 1
            self.answers_at.setdefault(key, {})[epoch] = names
        if affected:
            self._reanalyse(affected)

    def affected_by(self, names: set[str]) -> list[str]:
        """The open targets whose cached or in-flight analysis asked about a name."""
        everything = "*" in names
        affected = []
        for key, asked in self.asked_by_target():
            if asked and (everything or not names.isdisjoint(asked)):
                affected.append(key)
        return affected

    def asked_by_target(self) -> Iterable[tuple[str, set[str]]]:
        for key, cached in self._cached_questions():
            asked = set(cached)
            for recorder in self.in_flight.get(key, ()):
                asked |= recorder.queried()
            yield key, asked

    def file_changed(self, path: str) -> None:
        """A Python file was saved or changed on disk: a summary read from it (a helper
        of another workspace module) is computed again in the background, and the
        targets that used it are analysed again once it lands."""
        for resolver in self._resolvers.values():
            workspace = getattr(resolver, "workspace", None)
            if workspace is not None:
                workspace.changed(path)

    def epoch(self, key: str) -> int:
        return self.epochs.get(key, 0)

    def forget_up_to(self, key: str, epoch: int) -> None:
        answers = self.answers_at.get(key, {})
        for old in [e for e in answers if e <= epoch]:
            del answers[old]

    def answered_since(self, key: str, epoch: int) -> frozenset[str] | None:
        """The names jedi answered for this target after ``epoch``: what the incremental
        analysis must look at again besides the edit. None when an answer named no
        particular name."""
        names = {n for e, ns in self.answers_at.get(key, {}).items() if e > epoch for n in ns}
        return None if "*" in names else frozenset(names)

    def asking(self, key: str, recorder: RecordingResolver | None) -> None:
        """An analysis of ``key`` is running with ``recorder`` on record."""
        if recorder is not None:
            self.in_flight.setdefault(key, []).append(recorder)

    def done_asking(self, key: str, recorder: RecordingResolver | None) -> None:
        recorders = self.in_flight.get(key, [])
        if recorder is not None and recorder in recorders:
            recorders.remove(recorder)
        if not recorders:
            self.in_flight.pop(key, None)
        if self._cold:  # after this analysis is shown (call_soon: its publish comes first)
            if self.loop is not None and not self.loop.is_closed():
                self.loop.call_soon(self._warm_up_cold)
            else:
                self._warm_up_cold()

    def closed(self, key: str) -> None:
        self.epochs.pop(key, None)
        self.answers_at.pop(key, None)

    def shutdown(self) -> None:
        for resolver in self._resolvers.values():
            close = getattr(resolver, "close", None) or getattr(resolver, "shutdown", None)
            if callable(close):
                try:
                    close()
                except Exception:  # closing is best effort
                    log.debug("resolver close failed", exc_info=True)


def _warm_up(resolver: Any) -> None:
    warm_up = getattr(resolver, "warm_up", None)
    if callable(warm_up):
        try:
            if warm_up():
                # Parse trees kept alive from now on are not worth scanning on every
                # collection (jedi-performance-facts.md, hazard 3).
                gc.freeze()
        except Exception:
            log.warning("jedi warm-up failed", exc_info=True)
