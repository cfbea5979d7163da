"""One process-wide lock around every construction of Python ``ast`` objects.

CPython 3.11 keeps the AST constructor's recursion-depth counter (and the limit it
checks against) in per-interpreter state that every thread shares
(python/cpython#106905). While one thread turns a parsed module into ``ast`` objects
the garbage collector can run Python code (a finalizer, a ``gc.callbacks`` entry),
the GIL can pass to another thread, and if that thread builds an AST too
(``ast.parse``, ``ast.literal_eval``) it overwrites the counter: one of the two
fails with ``SystemError: AST constructor recursion depth mismatch`` (or a spurious
``RecursionError``). GradGuard runs such threads: the resolver's jedi thread, where
parso calls ``ast.literal_eval`` to load a grammar and on every file it reads, next
to the engine's ``ast.parse``; the language server's two analysis threads.

:func:`install` replaces ``ast.parse`` with :func:`parse`, which takes the lock.
``ast.literal_eval`` looks ``parse`` up in the ``ast`` module at each call, so it is
covered too, and so is every library that parses through ``ast`` (jedi, parso,
``inspect``), whatever thread it runs on. The lock is re-entrant: a finalizer that
parses on the thread already holding it must not deadlock. Nothing here calls
``compile(..., PyCF_ONLY_AST)`` directly, nor do jedi or parso.
See docs/reliability.md for why a lock rather than a separate process for jedi.
"""

from __future__ import annotations

import ast
import functools
import threading
from typing import Any

#: Held while CPython builds ``ast`` objects; taken by :func:`parse`.
AST_LOCK = threading.RLock()

_unlocked_parse = ast.parse


@functools.wraps(_unlocked_parse)
def parse(source: Any, *args: Any, **kwargs: Any) -> Any:
    with AST_LOCK:
        return _unlocked_parse(source, *args, **kwargs)


def install() -> None:
    """Make ``ast.parse`` (and with it ``ast.literal_eval``) take :data:`AST_LOCK`
    in this process (idempotent). Call it before starting a thread that may parse."""
    if ast.parse is not parse:
        ast.parse = parse


install()
