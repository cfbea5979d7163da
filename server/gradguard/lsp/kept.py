"""Bounded memory: only the latest few analysed documents keep their trees and
baselines alive (:class:`~gradguard.lsp.snapshot.Kept`).

Trees serve hovers (an older document's is parsed again on demand); baselines,
with their lines and units about eight times the text (29 MB for 100 files of
torch), serve the next edit's incremental analysis (an older document's next
edit is analysed in full). RSS must not grow with the number of open files.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from gradguard.lsp.snapshot import Snapshot

#: Documents whose latest snapshot keeps its tree and indexes for hovers.
KEPT_FACTS = 4
#: Documents whose latest snapshot keeps its incremental baseline.
KEPT_BASELINES = 8


class KeptSnapshots:
    def __init__(self, baseline_dropped: Callable[[str], None]) -> None:
        # Least recently analysed first.
        self.facts: OrderedDict[str, Snapshot] = OrderedDict()
        self.baselines: OrderedDict[str, Snapshot] = OrderedDict()
        self._baseline_dropped = baseline_dropped

    def keep(self, snapshot: Snapshot, previous: Snapshot | None) -> None:
        if previous is not None:  # a hover may still hold it: let its tree go
            previous.kept.facts = None
        key = snapshot.key
        self.forget(key)
        if snapshot.kept.facts is not None:
            self.facts[key] = snapshot
            while len(self.facts) > KEPT_FACTS:
                self.facts.popitem(last=False)[1].kept.facts = None
        if snapshot.kept.baseline is not None:
            self.baselines[key] = snapshot
            while len(self.baselines) > KEPT_BASELINES:
                dropped_key, dropped = self.baselines.popitem(last=False)
                dropped.kept.baseline = None
                self._baseline_dropped(dropped_key)

    def forget(self, key: str) -> None:
        self.facts.pop(key, None)
        self.baselines.pop(key, None)
