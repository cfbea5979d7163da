"""The workspace: what is open and what was analysed, composed of one part per
concern (see docs/server.md, "The life of a keystroke").

* :mod:`~gradguard.lsp.targets`: documents and notebooks, their text and versions;
* :mod:`~gradguard.lsp.configuration`: settings and ``pyproject.toml`` per document;
* :mod:`~gradguard.lsp.scheduler`: debounce, the idle whole-file check, locks;
* :mod:`~gradguard.lsp.worker`: the analysis on a worker thread, request to snapshot;
* :mod:`~gradguard.lsp.kept` and :mod:`~gradguard.lsp.converted`: what stays alive;
* :mod:`~gradguard.lsp.jedi_answers`: jedi's late answers and their epochs;
* :mod:`~gradguard.lsp.publisher`: diagnostics and notices sent to the client.

Here: the cached snapshot of each target, and the path from a request for
analysis to a result that is shown. A result computed for a version that is no
longer current is dropped. ``host`` is the thin LSP side
(:class:`~gradguard.lsp.host.GradGuardServer`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gradguard.analysis.resolution import SymbolResolver
from gradguard.lsp import targets
from gradguard.lsp.configuration import Configuration
from gradguard.lsp.converted import ConvertedCache
from gradguard.lsp.jedi_answers import JediAnswers
from gradguard.lsp.kept import KeptSnapshots
from gradguard.lsp.publisher import Publisher
from gradguard.lsp.scheduler import Failed, Scheduler
from gradguard.lsp.settings import Settings
from gradguard.lsp.snapshot import AnalysisRequest, Context, Snapshot
from gradguard.lsp.worker import RecordingResolver, run_analysis

#: ``gradguard.lsp.symbols.INDEX`` (not imported before the first hover).
SYMBOLS_INDEX = "symbols"

log = logging.getLogger(__name__)

#: Seconds without a new analysis before the hover index of a hovered document's
#: new version is built in the background.
SYMBOLS_IDLE_S = 0.5


class Workspace:
    def __init__(self, host: Any) -> None:
        self.host = host
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="gradguard-analysis")
        self.snapshots: dict[str, Snapshot] = {}  # target -> its latest shown analysis
        self.config = Configuration(host)
        self.converted = ConvertedCache()
        self.publisher = Publisher(host, self.converted)
        self.kept = KeptSnapshots(baseline_dropped=self.converted.forget)
        self.answers = JediAnswers(
            self.publisher.report_problems, self._reanalyse, self._cached_questions
        )
        self.scheduler = Scheduler(host, self.refresh, self.check_in_full)

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self.scheduler.loop

    @loop.setter
    def loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self.scheduler.loop = self.answers.loop = loop

    # -- what the handlers ask ----------------------------------------------------------

    def target_of(self, uri: str) -> str:
        return targets.target_of(self.host, uri)

    def settings_for(self, uri: str) -> Settings:
        return self.config.settings_for(uri)

    def schedule(self, key: str, delay_ms: int) -> None:
        self.scheduler.schedule(key, delay_ms)

    def changed(self, key: str) -> None:
        self.scheduler.changed(key)

    def settings_changed(self) -> None:
        """New settings or project files: everything open is analysed again."""
        self.config.generation += 1
        self._reanalyse(list(targets.open_targets(self.host)))

    def resolver_for(self, uri: str, settings: Settings) -> SymbolResolver | None:
        return self.answers.resolver_for(self.config.root_of(uri), settings)

    def is_current(self, snapshot: Snapshot) -> bool:
        return snapshot.context.generation == self.config.generation and (
            snapshot.version == targets.current_version(self.host, snapshot.key)
        )

    def cached(self, uri: str) -> Snapshot | None:
        """The cached analysis of the document's current version, if any."""
        snapshot = self.snapshots.get(self.target_of(uri))
        if snapshot is None or snapshot.version != targets.current_version(self.host, snapshot.key):
            return None
        return snapshot

    # -- from a request to a shown result -------------------------------------------------

    def make_request(self, key: str, *, full: bool = False) -> AnalysisRequest | None:
        target = targets.read(self.host, key)
        if target is None:
            return None
        settings = self.config.settings_for(key)
        config = settings.apply_to(self.config.project_config(target.path, key))
        problems = [str(e) for e in config.errors] + list(settings.errors)
        if problems:
            self.publisher.report_problems(problems)
        resolver = self.resolver_for(key, settings)
        encoding = self.host.position_encoding()
        generation = self.config.generation
        context = Context(generation, config, settings, encoding, resolver, self.answers.epoch(key))
        previous = self.snapshots.get(key)
        answered = self.answers.answered_since(key, previous.context.epoch) if previous else None
        if (
            full
            or not settings.incremental
            or previous is None
            or previous.context.generation != generation
            or answered is None  # an answer about any name: everything may change
        ):
            previous = None
        return AnalysisRequest(
            target,
            context,
            recorder=RecordingResolver(resolver) if resolver is not None else None,
            baseline=previous.kept.baseline if previous else None,
            baseline_queried=previous.queried if previous else frozenset(),
            answered=answered or frozenset(),
        )

    async def refresh(self, key: str, *, publish: bool = True) -> Snapshot | None:
        """Analyse the target's current version unless cached; publish if pushing.
        (A partial result is checked in full by ``check_in_full``.)"""
        await self.config.wait_ready()
        async with self.scheduler.lock(key):
            for _attempt in range(5):
                request = self.make_request(key)
                if request is None:
                    return None
                cached = self.snapshots.get(key)
                if cached is not None and cached.same_input(request):
                    return cached
                try:
                    snapshot = await self.analyse(key, request)
                except Failed:
                    return self.snapshots.get(key)  # the previous diagnostics stay
                if snapshot is None or not self.is_current(snapshot):
                    log.debug("dropped the analysis of %s version %s", key, request.target.version)
                    if publish:
                        return None  # a newer change has scheduled its own analysis
                    continue  # a pull request wants the current version: try again
                self._accept(snapshot, publish=publish, full=False)
                return snapshot
        return None

    async def check_in_full(self, key: str) -> None:
        """Analyse the whole file whose current result is partial. This runs outside
        the document's lock, so the next edit never waits for it, and is abandoned at
        the next rule when that edit arrives (``Scheduler.changed``)."""
        partial = self.snapshots.get(key)
        if partial is None or partial.exact or not self.is_current(partial):
            return
        request = self.make_request(key, full=True)
        if request is None or request.target.version != partial.version:
            return
        stop = self.scheduler.stop_event(key)
        try:
            snapshot = await self.analyse(key, request, stop.is_set)
        finally:
            self.scheduler.check_done(key, stop)
        if (
            snapshot is not None
            and self.snapshots.get(key) is partial
            and self.is_current(snapshot)
        ):
            self._accept(snapshot, publish=True, full=True)

    async def analyse(
        self, key: str, request: AnalysisRequest, cancelled: Callable[[], bool] | None = None
    ) -> Snapshot | None:
        """``run_analysis`` on a worker thread, with the names it asks jedi about on
        record while it runs (a late answer about one re-analyses this target)."""
        assert self.loop is not None
        self.answers.asking(key, request.recorder)
        try:
            return await self.loop.run_in_executor(self.executor, run_analysis, request, cancelled)
        except Exception as error:
            self.publisher.report_failure(key, error)
            raise Failed(key) from error
        finally:
            self.answers.done_asking(key, request.recorder)

    def _accept(self, snapshot: Snapshot, *, publish: bool, full: bool) -> None:
        """Make ``snapshot`` (of the current version) the target's result, and show it."""
        key = snapshot.key
        previous = self.snapshots.get(key)
        self.snapshots[key] = snapshot
        self.converted.accepted(snapshot, previous)
        self.answers.forget_up_to(key, snapshot.context.epoch)
        self.kept.keep(snapshot, previous)
        if previous is not None and previous.derived.has(SYMBOLS_INDEX) and self.loop:
            # A document people hover: build the new version's hover index off the
            # hot path once typing pauses, before a hover asks for it (not at once:
            # the code action that follows a publish is hotter).
            self.loop.call_later(SYMBOLS_IDLE_S, self._prebuild_symbols, snapshot)
        self.publisher.report_notices(key, snapshot.result.notices)
        kind = "whole file" if snapshot.exact else "incremental"
        log.debug(
            "analysed %s version %s in %.1f ms (%s): %d findings",
            *(key, snapshot.version, snapshot.elapsed_ms, kind, len(snapshot.result.findings)),
        )
        if not snapshot.exact:
            self.scheduler.schedule_full_check(key)
        if snapshot.confirms(previous):
            self.converted.confirmed(snapshot)  # the partial result was right: nothing new
        elif not self.host.pull_mode and publish:
            self.publisher.publish(snapshot)
        elif self.host.pull_mode and full:
            self.host.request_diagnostic_refresh()

    def _prebuild_symbols(self, snapshot: Snapshot) -> None:
        key = snapshot.key
        busy = self.scheduler.pending(key) or key in self.answers.in_flight
        if self.snapshots.get(key) is not snapshot or busy:
            return  # superseded, or typing goes on: the next version will do
        from gradguard.lsp import symbols  # loaded with the first hover, not before

        with contextlib.suppress(RuntimeError):  # shutting down
            self.executor.submit(symbols.prebuild, snapshot)

    # -- jedi's answers -------------------------------------------------------------------

    def _cached_questions(self) -> Iterator[tuple[str, frozenset[str]]]:
        for key in targets.open_targets(self.host):
            snapshot = self.snapshots.get(key)
            yield key, snapshot.queried if snapshot is not None else frozenset()

    def _reanalyse(self, keys: list[str]) -> None:
        self.publisher.reanalysed(keys, self.scheduler.schedule)

    # -- closing ---------------------------------------------------------------------------

    def closed(self, key: str) -> None:
        self.scheduler.closed(key)
        self.snapshots.pop(key, None)
        self.kept.forget(key)
        self.converted.forget(key)
        self.answers.closed(key)
        self.publisher.closed(key)

    async def run_in_worker(self, function: Callable[..., Any], *args: Any) -> Any:
        assert self.loop is not None
        return await self.loop.run_in_executor(self.executor, function, *args)

    def shutdown(self) -> None:
        self.scheduler.shutdown()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.answers.shutdown()
