"""What the client is told: pushed diagnostics, refresh requests for pull clients,
and notices (configuration problems, engine notices, failures), each once.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from lsprotocol import types

from gradguard.lsp.converted import ConvertedCache
from gradguard.lsp.snapshot import Snapshot

log = logging.getLogger(__name__)


class Publisher:
    def __init__(self, host: Any, converted: ConvertedCache) -> None:
        self.host = host
        self.converted = converted
        self._published: dict[str, set[str]] = {}  # target -> client uris with diagnostics
        self._versions: dict[str, int] = {}  # client uri -> newest version published
        self._reported: set[str] = set()  # configuration problems already shown
        self._noticed: dict[str, set[str]] = {}  # target -> notices already shown

    # -- diagnostics ------------------------------------------------------------------

    def show(self, snapshot: Snapshot, *, full: bool) -> None:
        """A new result of the current version: pushed, or (a full check's, which may
        differ from the partial one the client pulled) announced by a refresh."""
        if not self.host.pull_mode:
            self.publish(snapshot)
        elif full:
            self.host.request_diagnostic_refresh()

    def publish(self, snapshot: Snapshot) -> None:
        per_uri = self.converted.diagnostics(snapshot)
        before = self._published.get(snapshot.key, set())
        for uri in before - set(per_uri):  # cells deleted since the last publish
            self.host.publish(uri, None, [])
        for uri, diagnostics in per_uri.items():
            version = snapshot.views[uri].version
            shown = self._versions.get(uri)
            if version is not None and shown is not None and version < shown:
                log.warning("not publishing %s version %s after version %s", uri, version, shown)
                continue
            if version is not None:
                self._versions[uri] = version
            # Also an empty list: the client learns this version was analysed and is clean.
            self.host.publish(uri, version, diagnostics)
        self._published[snapshot.key] = {u for u, d in per_uri.items() if d}

    def reanalysed(self, keys: list[str], schedule: Any) -> None:
        """Targets whose diagnostics may have changed: analysed again and pushed, or
        (pull) the client asked to pull again."""
        if self.host.pull_mode:
            self.host.request_diagnostic_refresh()
        else:
            for key in keys:
                schedule(key, 0)

    def closed(self, key: str) -> None:
        self._noticed.pop(key, None)
        uris = self._published.pop(key, set()) | {key}
        for uri in uris:
            self._versions.pop(uri, None)
        if not self.host.pull_mode:
            for uri in uris:
                self.host.publish(uri, None, [])

    def cells_removed(self, key: str, uris: list[str]) -> None:
        """Cells deleted from an open notebook: clear what they showed."""
        published = self._published.get(key, set())
        for uri in uris:
            published.discard(uri)
            self._versions.pop(uri, None)
            if not self.host.pull_mode:
                self.host.publish(uri, None, [])

    # -- notices ----------------------------------------------------------------------

    def report_problems(self, problems: list[str]) -> None:
        """Each distinct settings/config problem once: logMessage + one showMessage."""
        new = [p for p in problems if p not in self._reported]
        if not new:
            return
        self._reported.update(new)
        for problem in new:
            log.warning("%s", problem)
            self.host.log_message(problem, types.MessageType.Warning)
        self.host.show_message(
            "GradGuard: invalid configuration, defaults used for: " + "; ".join(new),
            types.MessageType.Warning,
        )

    def report_notices(self, key: str, notices: list[str]) -> None:
        """Engine notices (file skipped for its size, time limit, a failing rule) are
        shown once per open document, not on every keystroke."""
        shown = self._noticed.setdefault(key, set())
        # "skipped, 2560013 bytes ..." after each keystroke is the same notice.
        keyed = {_kind(n): n for n in notices}
        new = [n for k, n in keyed.items() if k not in shown]
        if not new:
            return
        shown.update(keyed)
        for notice in new:
            log.warning("%s", notice)
            self.host.log_message(notice, types.MessageType.Warning)
        self.host.show_message("GradGuard: " + "; ".join(new), types.MessageType.Warning)

    def report_failure(self, key: str, error: Exception) -> None:
        """An analysis that raised (a GradGuard bug, CPython's ``SystemError``): logged
        with its traceback, and shown, once per open document and kind of failure."""
        notice = (
            f"{key}: internal error: {type(error).__name__}: {error} "
            "(not analysed; the previous diagnostics are kept)"
        )
        shown, kind = self._noticed.setdefault(key, set()), _kind(notice)
        if kind in shown:
            log.debug("%s", notice)
            return
        shown.add(kind)
        log.error("%s", notice, exc_info=error)
        self.host.log_message(notice, types.MessageType.Error)
        self.host.show_message(f"GradGuard: {notice}", types.MessageType.Error)


def _kind(notice: str) -> str:
    return re.sub(r"\d+", "#", notice)
