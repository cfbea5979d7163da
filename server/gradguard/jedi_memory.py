"""Bounds on what jedi leaves in memory between queries: parso's parse trees and
the cyclic garbage of each query's inference state.

GradGuard raises ``parso.cache._CACHED_SIZE_TRIGGER`` (hazard 2 in
``jedi-performance-facts.md``: parso's own eviction drops trees jedi still holds), so
parso never evicts and every module jedi ever read stays in memory. These helpers let
:class:`~gradguard.resolver.JediResolver` evict trees itself, but only on its worker
thread *between* queries: each query builds its own ``jedi.Script`` (and inference
state) and drops it when done, so then no tree is in use. A tree dropped is read again
from parso's disk cache (``gradguard.cache_paths``) by the next query that needs it.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterable


def _parser_cache() -> dict[str, dict[object, object]]:
    import parso.cache  # imported here: the resolver imports this before jedi starts

    cache = getattr(parso, "cache", None)
    parser_cache = getattr(cache, "parser_cache", None)
    return parser_cache if isinstance(parser_cache, dict) else {}


def parsed_paths() -> frozenset[object]:
    """The paths of every module parso holds a parse tree of in memory."""
    return frozenset(path for trees in _parser_cache().values() for path in trees)


def parsed_count() -> int:
    """How many parse trees parso holds in memory."""
    return sum(len(trees) for trees in _parser_cache().values())


def drop_parse_trees(keep: Iterable[object] = ()) -> int:
    """Drop every in-memory parse tree except those of ``keep`` (and jedi's expired
    time caches); how many were dropped. Call only when no jedi Script is in use."""
    import jedi.cache

    kept = frozenset(keep)
    dropped = 0
    for trees in _parser_cache().values():
        for path in [p for p in trees if p not in kept]:
            del trees[path]
            dropped += 1
    jedi.cache.clear_time_caches()
    gc.collect()  # trees are cyclic (parent links): free them now
    return dropped


def rss_mib() -> float | None:
    """This process's resident memory (Linux; None elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
