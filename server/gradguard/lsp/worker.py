"""The worker-thread part of an analysis: a request in, a snapshot out.

Runs the engine (:func:`gradguard.incremental.analyze_edit`) on the request's
text, never on the event loop, and records which names it asked jedi about.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

from gradguard.analysis.resolution import SymbolResolver
from gradguard.findings import AnalysisResult, Finding
from gradguard.lsp.snapshot import AnalysisRequest, Kept, Snapshot

#: Seconds after which an analysis starts no further rule (the rules left are
#: named in a notice); a keystroke's analysis normally takes milliseconds.
ANALYSIS_TIME_LIMIT = 5.0


class RecordingResolver:
    """Delegates to the workspace resolver and records every qualified name the
    analysis asked about, so a late jedi answer re-analyses only the documents
    whose analysis wanted it."""

    def __init__(self, resolver: SymbolResolver) -> None:
        self.resolver = resolver
        self.names: set[str] = set()
        self._lock = threading.Lock()

    def _record(self, qualified_name: str) -> None:
        with self._lock:
            self.names.add(qualified_name)

    def classify(self, qualified_name: str, path: str) -> Any:
        self._record(qualified_name)
        return self.resolver.classify(qualified_name, path)

    def describe_class(self, qualified_name: str, path: str) -> str | None:
        self._record(qualified_name)
        describe = getattr(self.resolver, "describe_class", None)
        return describe(qualified_name, path) if callable(describe) else None

    def workspace_function(self, qualified_name: str, path: str) -> Any:
        self._record(qualified_name)
        lookup = getattr(self.resolver, "workspace_function", None)
        return lookup(qualified_name, path) if callable(lookup) else None

    def queried(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self.names)


def run_analysis(
    request: AnalysisRequest, cancelled: Callable[[], bool] | None = None
) -> Snapshot | None:
    """The engine on a snapshot of the text. None when ``cancelled()`` turned True
    between two rules."""
    # Imported with the first document: the server answers `initialize` without them.
    from gradguard.engine import AnalysisCancelled
    from gradguard.incremental import analyze_edit

    started = time.perf_counter()
    target, context = request.target, request.context
    kept, exact, queried = Kept(), True, frozenset[str]()
    if not context.settings.enable or context.config.is_excluded(target.path):
        result = AnalysisResult()
    else:
        try:
            analysis = analyze_edit(
                target.text,
                target.path,
                baseline=request.baseline,
                answered=request.answered,
                config=context.config,
                resolver=request.recorder or context.resolver,
                time_limit=ANALYSIS_TIME_LIMIT,
                cancelled=cancelled,
            )
        except AnalysisCancelled:
            return None
        result, exact = analysis.result, analysis.exact
        kept = Kept(analysis.facts, analysis.baseline)
        # Findings carried over (or a baseline kept past a text that does not parse)
        # came from earlier questions.
        kept_baseline = request.baseline is not None and analysis.baseline is request.baseline
        if analysis.mode != "full" or kept_baseline:
            queried = request.baseline_queried
    if request.recorder:
        queried |= request.recorder.queried()
    if target.notice is not None:
        result = dataclasses.replace(
            result,
            findings=_without_replacement_fixes(result.findings),
            notices=[target.notice, *result.notices],
        )
    elapsed_ms = (time.perf_counter() - started) * 1000
    return Snapshot(target, context, result, elapsed_ms, queried, exact, kept)


def _without_replacement_fixes(findings: list[Finding]) -> list[Finding]:
    """A fix must never write U+FFFD over the user's own (odd) text."""
    return [
        dataclasses.replace(f, fixes=())
        if any("\ufffd" in e.new_text for fix in f.fixes for e in fix.edits)
        else f
        for f in findings
    ]
