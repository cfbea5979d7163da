"""Garbage-collector settings for processes that analyse many files.

The analysis builds no reference cycles (``tests/test_engine.py`` checks this), so
refcounting frees each file's tree and facts as soon as its analysis ends. The
cyclic collector's full passes only cost time: each one walks every live object, and
with a fresh tree alive they made the analysis of a 1,000-file set about 1.7 times
slower than the same work without them (benchmarks/notes.md). Objects that exist
after start-up (modules, rule tables) are frozen out of the collector's passes, and
young objects are collected less often.
"""

from __future__ import annotations

import gc

# Allocations between young-generation passes (the default is 700): a 2,000-line
# file allocates ~100,000 nodes, and each pass would rescan the ones still alive.
_YOUNG_THRESHOLD = 50_000


def tune_for_analysis() -> None:
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(_YOUNG_THRESHOLD, middle, old)
