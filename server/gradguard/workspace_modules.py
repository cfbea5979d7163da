"""Other modules of the workspace, found by path, parsed and summarised, cached by version.

``from utils import replace_head`` in ``train.py``: which file is ``utils``? Python would
look in the script's folder, then along ``sys.path``; for a module of a package, relative
imports start at its package. This module looks where Python would for workspace code
only: the importing file's folder, the folder above its outermost package, the project
root and the configured extra paths (never site-packages, never an installed package,
never torch or the standard library). That costs a few ``stat`` calls, where jedi costs
3-20 ms a name (0.3-0.9 s the first) and would answer with installed packages too, which
are not summarised.

The module found is read and parsed with the engine's parser (never imported or run), and
summarised (:mod:`gradguard.semantic.workspace`) under one time bound, then cached by
path, modification time and size. A package ``__init__`` that re-exports the name
(``from .utils import replace_head``) is followed a few steps. Each lookup says which
files and folders it depended on (a module added to a folder searched first would
shadow the one found), for the result cache.

``background=True`` (the language server): a module not summarised yet is summarised on
a worker thread and the lookup answers "unknown" at once; ``on_ready(name)`` is called
when the summary lands, so the files that asked are analysed again. Parsing another
module never runs on the keystroke path.
"""

from __future__ import annotations

import ast
import logging
import os
import queue
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from gradguard.semantic.workspace import ClassSummary, FunctionSummary, ModuleSummary

log = logging.getLogger(__name__)

#: A module larger than this is not summarised (generated code, vendored bundles).
MAX_MODULE_BYTES = 1_000_000
#: Seconds one module's parse and summary may take; functions not reached are unknown.
SUMMARY_TIME_LIMIT_S = 2.0
#: Re-exports followed (``pkg/__init__.py`` -> ``pkg/utils.py``).
MAX_REEXPORTS = 3
#: Summaries kept in memory (they are small: names and line numbers).
MAX_SUMMARIES = 512
#: Top-level names that are never workspace code worth summarising.
_NEVER_WORKSPACE = frozenset({"torch", "torchvision", "numpy", "np", "typing"}) | frozenset(
    getattr(sys, "stdlib_module_names", ())
)
_INSTALLED = frozenset({"site-packages", "dist-packages"})

Dependencies = tuple[tuple[str, int | None], ...]
Found = tuple[FunctionSummary, str]  # the summary and the module's name for messages


@dataclass(frozen=True)
class Lookup:
    """A lookup's answer (None: unknown), the files and folders it read, and whether it
    is final (False: the summary is being computed in the background)."""

    found: Found | None
    deps: Dependencies
    settled: bool = True


class WorkspaceModules:
    def __init__(
        self,
        roots: Callable[[], Iterable[str | None]],
        *,
        project_root: str | None = None,
        background: bool = False,
        on_ready: Callable[[str], None] | None = None,
    ) -> None:
        """``roots()``: the project root and extra paths, asked at each lookup."""
        self._roots = roots
        self.project_root = project_root
        self.background = background
        self.on_ready = on_ready
        self._lock = threading.Lock()
        self._summaries: OrderedDict[str, tuple[tuple[int, int], ModuleSummary | None]] = (
            OrderedDict()
        )
        # path -> (name the caller asked, name looked up in that module), for lookups
        # waiting for its summary / that used it.
        self._waiting: dict[str, set[tuple[str, str]]] = {}
        self._asked: dict[str, set[tuple[str, str]]] = {}
        self._queue: queue.Queue[str] | None = None
        #: Modules parsed and summarised (tests, statistics).
        self.summarised = 0

    # -- looking up ----------------------------------------------------------------------

    def function(self, qualified: str, importer: str) -> Lookup:
        """The summary of the function ``qualified`` names as imported by ``importer``
        (``utils.replace_head``, ``.utils.replace_head``)."""
        deps: dict[str, int | None] = {}
        settled = True
        asked = qualified  # the name the caller knows, also for a re-export's module
        for _ in range(MAX_REEXPORTS + 1):
            located = self._locate(qualified, importer, deps)
            if located is None:
                return Lookup(None, _sorted(deps))
            path, name = located
            summary, ready = self._summary(path, (asked, name))
            settled = settled and ready
            if summary is None:
                return Lookup(None, _sorted(deps), settled)
            if name in summary.functions:
                return Lookup((summary.functions[name], self._shown(path)), _sorted(deps), settled)
            if name not in summary.reexports:
                return Lookup(None, _sorted(deps), settled)
            qualified, importer = summary.reexports[name], path
        return Lookup(None, _sorted(deps), settled)

    def _locate(
        self, qualified: str, importer: str, deps: dict[str, int | None]
    ) -> tuple[str, str] | None:
        """The workspace file that defines the module part of ``qualified`` and the name
        looked up in it."""
        stripped = qualified.lstrip(".")
        level = len(qualified) - len(stripped)
        parts = stripped.split(".")
        module, name = parts[:-1], parts[-1]
        if not level and (not module or module[0] in _NEVER_WORKSPACE):
            return None
        for base in self._bases(level, importer):
            path = _module_file(base, module, deps)
            if path is not None:
                return (path, name) if _in_workspace(path) else None
        return None

    def _bases(self, level: int, importer: str) -> list[str]:
        real = os.path.abspath(importer) if importer and not importer.startswith("<") else ""
        if level:
            if not real:
                return []
            base = os.path.dirname(real)
            for _ in range(level - 1):
                base = os.path.dirname(base)
            return [base]
        bases = [os.path.dirname(real), package_root(real)] if real else []
        bases += [os.path.abspath(r) for r in self._roots() if r]
        return [b for b in dict.fromkeys(bases) if b]

    def _shown(self, path: str) -> str:
        root = self.project_root
        if root and path.startswith(os.path.abspath(root) + os.sep):
            return os.path.relpath(path, root)
        return os.path.basename(path)

    # -- summaries -----------------------------------------------------------------------

    def _summary(self, path: str, asked: tuple[str, str]) -> tuple[ModuleSummary | None, bool]:
        """The module's summary for its current version, and whether it is known (in the
        background mode a new version is summarised later)."""
        version = _version(path)
        with self._lock:
            self._asked.setdefault(path, set()).add(asked)
            kept = self._summaries.get(path)
            if kept is not None and kept[0] == version:
                self._summaries.move_to_end(path)
                return kept[1], True
            if self.background:
                self._request(path, asked)
                return None, False
        return self._store(path, version), True

    def _store(self, path: str, version: tuple[int, int] | None) -> ModuleSummary | None:
        summary = summarise_file(path) if version is not None else None
        with self._lock:
            self.summarised += 1
            if version is not None:
                self._summaries[path] = (version, summary)
                while len(self._summaries) > MAX_SUMMARIES:
                    self._summaries.popitem(last=False)
        return summary

    def changed(self, path: str) -> None:
        """``path`` was saved: summarise it again (in the background) if a lookup used it,
        and tell the files that asked."""
        path = os.path.abspath(path)
        with self._lock:
            names = set(self._asked.get(path, ()))
            if not names or not self.background:
                return
            for asked in names:
                self._request(path, asked)

    def _request(self, path: str, asked: tuple[str, str]) -> None:
        """Queue ``path`` for the worker (under the lock)."""
        waiting = self._waiting.setdefault(path, set())
        first = not waiting
        waiting.add(asked)
        if self._queue is None:
            self._queue = queue.Queue()
            threading.Thread(target=self._run, name="gradguard-workspace", daemon=True).start()
        if first:
            self._queue.put(path)

    def _run(self) -> None:
        assert self._queue is not None
        while True:
            path = self._queue.get()
            with self._lock:
                kept = self._summaries.get(path)
            previous, summary = kept[1] if kept else None, None
            try:
                summary = self._store(path, _version(path))
            except Exception:  # never let one module end the worker
                log.exception("summarising %s failed", path)
            with self._lock:
                waiting = self._waiting.pop(path, set())
            # Only a name the summary says (or said) something about changes an analysis:
            # a class or a function without effects would re-analyse the callers for nothing.
            names = {
                asked
                for asked, name in waiting
                if _matters(summary, name) or _matters(previous, name)
            }
            for name in sorted(names):
                if self.on_ready is not None:
                    try:
                        self.on_ready(name)
                    except Exception:
                        log.exception("on_ready failed for %s", name)


def _matters(summary: ModuleSummary | None, name: str) -> bool:
    """The summary has effects for ``name`` or leads on to another module."""
    if summary is None:
        return False
    if name in summary.reexports:
        return True
    function = summary.functions.get(name)
    if isinstance(function, ClassSummary):  # what its construction or its methods do
        methods = function.methods.values()
        return bool(function.optimizer_fields) or any(map(_effects, [function, *methods]))
    return function is not None and _effects(function)


def _effects(function: FunctionSummary) -> bool:
    return bool(
        function.replaced or function.moves or function.adds_param_groups or function.optimizers
    )


class WorkspaceOnlyResolver:
    """A resolver that asks jedi nothing and finds other workspace modules' functions by
    path: the summaries alone, for measuring them (``benchmarks.workspace``) and tests."""

    def __init__(self, root: str, **options: Any) -> None:
        self.workspace = WorkspaceModules(lambda: (root,), project_root=root, **options)

    def classify(self, qualified_name: str, path: str) -> None:
        return None

    def workspace_function(self, qualified_name: str, path: str) -> Found | None:
        return self.workspace.function(qualified_name, path).found


def summarise_file(path: str) -> ModuleSummary | None:
    """Read, parse and summarise one module; None when it cannot be (too large,
    unreadable, a syntax error, nesting too deep): then nothing about it is known."""
    from gradguard import engine, files
    from gradguard.analysis.facts import ModuleFacts
    from gradguard.semantic.workspace import summarise
    from gradguard.source import SourceFile

    started = time.monotonic()
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_MODULE_BYTES + 1)
        if len(data) > MAX_MODULE_BYTES:
            return None
        source = SourceFile(files.decode(data, path).text, path)
        tree = engine.parse(source)
        if not isinstance(tree, ast.Module):
            return None  # a syntax error: nothing about the module is known
        facts = ModuleFacts(source, tree)
        try:
            return summarise(facts, path, started + SUMMARY_TIME_LIMIT_S)
        finally:
            facts.release()
    except (OSError, files.UnreadableFile, RecursionError, MemoryError):
        return None
    except Exception:  # a bug summarising must not end the importing file's analysis
        log.exception("cannot summarise %s", path)
        return None


def _module_file(base: str, module: list[str], deps: dict[str, int | None]) -> str | None:
    """``base/a/b.py`` or ``base/a/b/__init__.py`` for ``a.b`` (``base/__init__.py`` for
    no parts: ``from . import f``); each folder looked in is a dependency."""
    directory = base
    for part in module[:-1]:
        deps.setdefault(directory, mtime_ns(directory))
        directory = os.path.join(directory, part)
        if not os.path.isdir(directory):
            return None
    deps.setdefault(directory, mtime_ns(directory))
    if module:
        stem = os.path.join(directory, module[-1])
        candidates = [stem + ".py", os.path.join(stem, "__init__.py")]
    else:
        candidates = [os.path.join(directory, "__init__.py")]
    for candidate in candidates:
        if os.path.isfile(candidate):
            deps[candidate] = mtime_ns(candidate)
            return candidate
    return None


def _in_workspace(path: str) -> bool:
    """Not an installed package's file (site-packages, the interpreter's own library)."""
    parts = set(path.split(os.sep))
    if parts & _INSTALLED:
        return False
    prefixes = {sys.prefix, sys.base_prefix, getattr(sys, "real_prefix", sys.prefix)}
    return not any(path.startswith(os.path.join(p, "lib") + os.sep) for p in prefixes)


def package_root(path: str) -> str:
    """The folder above the outermost package holding ``path``."""
    directory = os.path.dirname(path)
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return directory


def _version(path: str) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return (status.st_mtime_ns, status.st_size)


def mtime_ns(path: str) -> int | None:
    """``path``'s modification time in nanoseconds; None when it does not exist."""
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _sorted(deps: dict[str, int | None]) -> Dependencies:
    return tuple(sorted(deps.items()))
