"""Findings converted to client diagnostics, and the cache that spares the work.

A finding the incremental analysis carried over from the previous version is the
same object, so its diagnostic as last published is reused (only the version in
its ``data`` changes). The cache keeps, per target, the diagnostics of the
version shown and of the one before it; only targets that can be analysed
incrementally (whose snapshot kept a baseline) keep any.
"""

from __future__ import annotations

from typing import Any, cast

import attrs
from lsprotocol import types

from gradguard.findings import Finding, Span
from gradguard.lsp import convert
from gradguard.lsp.snapshot import Snapshot
from gradguard.lsp.targets import View

#: ``id(finding) -> (finding, diagnostic)``: the finding is kept so the id stays its own.
Converted = dict[int, tuple[Finding, types.Diagnostic]]


def diagnostics_of(
    snapshot: Snapshot, before: Converted
) -> tuple[dict[str, list[types.Diagnostic]], Converted]:
    """Diagnostics per client document (every view present, maybe empty), reusing
    ``before``'s for findings carried over unmoved; and what was converted."""
    out: dict[str, list[types.Diagnostic]] = {uri: [] for uri in snapshot.views}
    converted: Converted = {}
    single = snapshot.target.notebook is None
    for finding in snapshot.result.findings:
        earlier = before.get(id(finding))
        if earlier is not None and earlier[0] is finding and single:
            # Carried over unmoved from the previous version (gradguard.incremental):
            # its lines are unchanged, only the version in its data differs.
            view = next(iter(snapshot.views.values()))
            data = {**cast(dict[str, Any], earlier[1].data), "version": view.version}
            diagnostic = attrs.evolve(earlier[1], data=data)
        else:
            located = snapshot.locate(finding.span)
            if located is None:
                continue
            view, local = located
            diagnostic = _diagnostic(snapshot, finding, view, local)
        converted[id(finding)] = (finding, diagnostic)
        out[view.uri].append(diagnostic)
    error = snapshot.result.parse_error
    located = snapshot.locate(Span(error.position, error.position)) if error else None
    if error and located and snapshot.context.settings.show_syntax_errors:
        lines = snapshot.line_map(located[0])
        out[located[0].uri].append(convert.syntax_error(error.message, lines, located[1]))
    return out, converted


def _diagnostic(snapshot: Snapshot, finding: Finding, view: View, local: Span) -> types.Diagnostic:
    diagnostic = convert.diagnostic(
        finding, snapshot.line_map(view), uri=view.uri, version=view.version, span=local
    )
    if finding.related:
        related = []
        for item in finding.related:
            where = snapshot.locate(item.span)
            if where is None:
                continue
            related_view, related_span = where
            related.append(
                types.DiagnosticRelatedInformation(
                    location=types.Location(
                        uri=related_view.uri,
                        range=snapshot.line_map(related_view).range_to_lsp(related_span),
                    ),
                    message=item.message,
                )
            )
        diagnostic.related_information = related or None
    return diagnostic


class ConvertedCache:
    def __init__(self) -> None:
        self._shown: dict[str, Converted] = {}  # target -> the current snapshot's
        self._before: dict[str, Converted] = {}  # target -> the previous snapshot's

    def accepted(self, snapshot: Snapshot, previous: Snapshot | None) -> None:
        """``snapshot`` replaces ``previous``: what was shown becomes what came before."""
        shown = self._shown.pop(snapshot.key, {})
        same_encoding = (
            previous is not None and previous.context.encoding == snapshot.context.encoding
        )
        self._before[snapshot.key] = shown if same_encoding else {}

    def diagnostics(self, snapshot: Snapshot) -> dict[str, list[types.Diagnostic]]:
        per_uri, converted = diagnostics_of(snapshot, self._before.get(snapshot.key, {}))
        if snapshot.kept.baseline is not None:  # else no edit can carry a finding over
            self._shown[snapshot.key] = converted
        return per_uri

    def confirmed(self, snapshot: Snapshot) -> None:
        """The full analysis ``snapshot`` found what the partial one did: the published
        diagnostics stand for its equal findings (for the next edit)."""
        shown = {finding: diagnostic for finding, diagnostic in self.before(snapshot.key).values()}
        self._shown[snapshot.key] = {
            id(f): (f, shown[f]) for f in snapshot.result.findings if f in shown
        }

    def before(self, key: str) -> Converted:
        return self._before.get(key, {})

    def shown(self, key: str) -> Converted:
        return self._shown.get(key, {})

    def forget(self, key: str) -> None:
        self._shown.pop(key, None)
        self._before.pop(key, None)
