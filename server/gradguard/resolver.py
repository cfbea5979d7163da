"""The jedi-backed :class:`~gradguard.analysis.resolution.SymbolResolver`.

The engine asks one question the file alone cannot answer: *what is this name
the file imports from elsewhere* (``models.Net``, ``.models.Net``,
``torch_optimizer.Lamb``, ``mypkg.build_model``)? :class:`JediResolver` answers
it with jedi's static analysis, under the constraints measured in
``jedi-performance-facts.md``:

* **Never runs user code.** jedi parses the workspace; it does not import it.
  ``jedi.settings.auto_import_modules`` (modules jedi would *import* instead of
  parse) is emptied, and the :class:`jedi.Project` keeps
  ``load_unsafe_extensions=False``, so jedi's helper subprocess only loads
  compiled extension modules found on the *environment's own* ``sys.path``
  (installed packages), never ones found in the workspace or ``extra_paths``.
  The default environment is the active virtualenv / ``sys.executable`` run as
  a jedi helper subprocess; an explicit ``environment_path`` goes through
  ``jedi.create_environment(path, safe=True)``. That interpreter *is* started
  (to read its ``sys.path``), so the path must come from the user's own
  settings, never from a file inside the workspace. Each synthetic snippet is
  parsed under a made-up sibling file name so it never replaces the real file
  in parso's cache.
* **Bounded time.** Every query runs on one background worker thread (jedi is
  not thread-safe, and one thread bounds its memory); :meth:`classify` waits at
  most ``timeout`` seconds and otherwise returns ``None`` (unknown). The answer
  still lands in the cache when the worker finishes, and ``on_resolved`` is
  called so an LSP server can re-publish diagnostics.
* **Hazard fixes.** dynamic parameter search is off (hazard 4), parso's cache
  eviction trigger is raised (hazard 2), and names from huge packages in the
  deny list are never followed (hazard 1): the deny list is both checked on the
  asked name and enforced inside jedi through its ``import_module`` plugin hook,
  so a workspace class deriving from ``transformers.PreTrainedModel`` does not
  make jedi parse hundreds of ``transformers`` modules either. Garbage-collection
  pauses (hazard 3) are the server's concern: call :meth:`JediResolver.warm_up`
  and then ``gc.freeze()``.

Answers are cached per (directory of the asking file, qualified name) and
revalidated by the modification time of the files the answer came from (the
module the import names, the defining file, and every file in the class's MRO
or the factory's returned class's MRO). Unknown answers are revalidated by the
asking directory and the imported module, and re-asked after ``negative_ttl``.
Standard-library names that no workspace module shadows are answered
:attr:`SymbolKind.OTHER` without jedi (``os.path.join`` costs 0.7-0.8 s cold).

Measured (2 cores, torch 2.13 source): the first query in a process costs
0.3 s with parso's disk cache warm, 0.9 s cold (it loads ``torch.nn.Module``);
:meth:`JediResolver.warm_up` takes that cost up front. Later new names cost
3-20 ms; a cached answer costs about 0.05 ms.
"""

from __future__ import annotations

import gc
import json
import keyword
import logging
import os
import queue
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from gradguard import __version__, astlock, cache_paths, jedi_memory
from gradguard.analysis.resolution import SymbolKind
from gradguard.answers import AnswerStore
from gradguard.workspace_modules import Found, WorkspaceModules, mtime_ns, package_root

if TYPE_CHECKING:  # imported when the first question needs jedi (a run may ask none)
    import jedi

log = logging.getLogger(__name__)

#: Top-level packages jedi is never allowed to descend into (hazard 1: one file
#: importing ``transformers`` cost 173 s cold / 70 s warm and ~1 GiB). Names
#: from them resolve to ``None`` (unknown) at once.
DEFAULT_DENY: frozenset[str] = frozenset(
    {
        "transformers",
        "diffusers",
        "tensorflow",
        "tensorflow_probability",
        "tf_keras",
        "keras",
        "jax",
        "jaxlib",
        "flax",
        "optax",
        "vllm",
        "deepspeed",
        "megatron",
    }
)

MODULE_QUALNAMES = frozenset({"torch.nn.modules.module.Module", "torch.nn.Module"})
OPTIMIZER_QUALNAMES = frozenset({"torch.optim.optimizer.Optimizer", "torch.optim.Optimizer"})

# The name every synthetic snippet binds; it cannot clash with a user name that
# matters because the snippet contains nothing else.
_PROBE = "_gg_x"
_PROBE_FILE = "__gradguard_probe__.py"

_STDLIB: frozenset[str] = frozenset(getattr(sys, "stdlib_module_names", ())) - {"__main__"}

#: Parse trees (modules) parso may hold in memory besides the warm-up's before the worker
#: drops them between queries (gradguard.jedi_memory). Answering the names 100 torch source
#: files import left 65 trees unbounded; 32 cost 2 trims and no time, 16 doubled the time.
MAX_PARSED_MODULES = 32
#: RSS growth (MiB) since the last full garbage-collector pass past which the worker runs
#: one between queries. A pass after every query kept RSS lowest (217 MiB peak against
#: 254-268 unbounded) but costs 170-350 ms each, holding the GIL.
COLLECT_AFTER_GROWTH_MIB = 8.0

#: The same bounds for ``gradguard check`` (``mode="blocking"``): a run ends, and trims
#: cost it time (trees read again, each collection 170-600 ms holding the GIL). On timm
#: (304 files, 39 queries, one process): 1.8 s of 9.5 s CPU went to 3 trims and 32
#: collections at 32 trees / 8 MiB; at 256 / 64 MiB none ran and RSS peaked 17 MiB higher.
BATCH_MAX_PARSED_MODULES = 256
BATCH_COLLECT_AFTER_GROWTH_MIB = 64.0

#: Seconds a name jedi could not resolve is kept on disk (gradguard.answers) at most.
STORED_UNKNOWN_S = 24 * 3600.0

Mode = Literal["blocking", "nonblocking"]


# -- jedi configuration -------------------------------------------------------------


class _DenyState(threading.local):
    deny: frozenset[str] = frozenset()


_deny_state = _DenyState()
_configured = False
_configure_lock = threading.Lock()


def _deny_import_plugin(callback: Callable[..., Any]) -> Callable[..., Any]:
    """A jedi plugin (``import_module`` hook) that refuses denied packages.

    The deny set is thread-local: it is only set on a resolver's worker thread,
    so other users of jedi in the same process are unaffected.
    """
    from jedi.inference.base_value import NO_VALUES

    def wrapper(inference_state: Any, import_names: Any, *args: Any, **kwargs: Any) -> Any:
        deny = _deny_state.deny
        if deny and import_names and getattr(import_names[0], "value", import_names[0]) in deny:
            return NO_VALUES
        return callback(inference_state, import_names, *args, **kwargs)

    return wrapper


class _DenyPlugin:
    import_module = staticmethod(_deny_import_plugin)


def configure_jedi() -> None:
    """Apply the process-wide jedi/parso settings (idempotent)."""
    global _configured
    import jedi
    import parso

    # The worker thread's parso calls ast.literal_eval next to the engine's ast.parse.
    astlock.install()
    with _configure_lock:
        # Hazard 4: dynamic parameter search (one infer() took 189 s).
        jedi.settings.dynamic_params = False
        jedi.settings.dynamic_params_for_other_modules = False
        # Never import a module instead of parsing it.
        jedi.settings.auto_import_modules = []
        # Hazard 2: parso evicts entries jedi still holds (jedi issue 1888).
        cache = getattr(parso, "cache", None)
        if cache is not None and hasattr(cache, "_CACHED_SIZE_TRIGGER"):
            cache._CACHED_SIZE_TRIGGER = max(cache._CACHED_SIZE_TRIGGER, 10**9)
        if _configured:
            return
        cache_paths.install()  # where parso and jedi cache, and surviving a bad cache
        try:
            from jedi.plugins import plugin_manager

            plugin_manager.register(_DenyPlugin)
        except Exception:  # pragma: no cover - jedi internals moved
            log.warning("cannot install the deny-list import hook into jedi", exc_info=True)
        _configured = True


# -- cache ----------------------------------------------------------------------------


@dataclass
class _Answer:
    kind: SymbolKind | None
    description: str | None = None
    # (path, st_mtime_ns or None when missing) of every file the answer came from.
    deps: tuple[tuple[str, int | None], ...] = ()
    expires: float | None = None  # negative answers are re-asked after a while

    def is_valid(self) -> bool:
        if self.expires is not None and time.monotonic() > self.expires:
            return False
        return all(mtime_ns(path) == mtime for path, mtime in self.deps)


_STDLIB_ANSWER = _Answer(SymbolKind.OTHER)


@dataclass
class _Job:
    key: tuple[str, str]
    qualified: str
    path: str | None
    done: threading.Event = field(default_factory=threading.Event)
    answer: _Answer | None = None
    late: bool = False  # a caller gave up waiting: report through on_resolved
    task: Callable[[], None] | None = None  # housekeeping run on the worker instead


@dataclass(frozen=True)
class Traced:
    """An answer and what it came from: the files (path, st_mtime_ns or None) it
    depends on; ``settled`` False when the caller gave up waiting; ``unknown`` when
    jedi found nothing (a module installed later may change that)."""

    kind: SymbolKind | None
    deps: tuple[tuple[str, int | None], ...]
    settled: bool
    unknown: bool


_trace: ContextVar[list[Traced] | None] = ContextVar("gradguard_jedi_trace", default=None)


@contextmanager
def tracing() -> Iterator[list[Traced]]:
    """Every answer :meth:`JediResolver.classify` gives on this thread meanwhile."""
    answers: list[Traced] = []
    token = _trace.set(answers)
    try:
        yield answers
    finally:
        _trace.reset(token)


def _traced(answer: _Answer | None, settled: bool) -> Traced:
    if answer is None:  # never asked (a deny-listed name) or given up on
        return Traced(None, (), settled=settled, unknown=False)
    return Traced(answer.kind, answer.deps, settled=True, unknown=answer.kind is None)


# -- the resolver -----------------------------------------------------------------------


class JediResolver:
    """Classifies imported names with jedi, off the caller's thread, under a time budget.

    ``mode="blocking"`` (CLI): :meth:`classify` waits up to ``timeout`` for each
    answer; while a query that already timed out is still running, later
    queries do not wait (they queue and return ``None``) so one pathological
    query cannot cost ``timeout`` per name. ``mode="nonblocking"`` (LSP):
    :meth:`classify` returns a cached answer or waits at most ``timeout``
    (pass a tiny one) and returns ``None``; ``on_resolved(qualified_name)`` is
    called from the worker thread when an answer some caller gave up on arrives.
    """

    def __init__(
        self,
        project_root: str | None,
        environment_path: str | None = None,
        extra_paths: Iterable[str] = (),
        timeout: float = 2.0,
        *,
        mode: Mode = "blocking",
        deny: Iterable[str] = DEFAULT_DENY,
        on_resolved: Callable[[str], None] | None = None,
        negative_ttl: float = 30.0,
        max_entries: int = 20_000,
        skip_stdlib: bool = True,
        store: AnswerStore | None = None,
        max_parsed_modules: int | None = None,
    ) -> None:
        if mode not in ("blocking", "nonblocking"):
            raise ValueError(f"mode must be 'blocking' or 'nonblocking', not {mode!r}")
        self.project_root = os.path.abspath(project_root) if project_root else None
        self.extra_paths = tuple(os.path.abspath(p) for p in extra_paths)
        self.timeout = timeout
        self.mode: Mode = mode
        self.deny = frozenset(deny)
        self.on_resolved = on_resolved
        self.negative_ttl = negative_ttl
        self.max_entries = max_entries
        self.skip_stdlib = skip_stdlib
        batch = mode == "blocking"
        if max_parsed_modules is None:
            max_parsed_modules = BATCH_MAX_PARSED_MODULES if batch else MAX_PARSED_MODULES
        self.max_parsed_modules = max_parsed_modules
        self.collect_after_growth_mib = (
            BATCH_COLLECT_AFTER_GROWTH_MIB if batch else COLLECT_AFTER_GROWTH_MIB
        )
        #: The warm-up's parse trees, never dropped (the server gc.freeze()s them, so
        #: a dropped copy would stay in memory beside the next query's new one).
        self._pinned_trees: frozenset[object] = frozenset()
        #: Times the worker dropped parse trees past ``max_parsed_modules``.
        self.parse_tree_trims = 0
        self._collected_at_mib = 0.0
        #: jedi's environment. The default one (the active virtualenv/conda env, else
        #: sys.executable, run as jedi's helper subprocess, not inside this process) is
        #: made with the first query: a process that asks jedi nothing never imports it.
        self._environment: Any = None
        self._environment_id: list[str] = [
            os.environ.get("VIRTUAL_ENV", ""),
            os.environ.get("CONDA_PREFIX", ""),
            sys.executable,
            sys.version,
        ]
        if environment_path is not None:
            configure_jedi()
            import jedi

            # safe=True: only a real Python executable / virtualenv is accepted (a bad
            # one fails here, where the editor reports it).
            self._environment = jedi.create_environment(environment_path, safe=True)
            self._environment_id = [
                str(getattr(self._environment, "executable", "")),
                str(getattr(self._environment, "version_info", "")),
            ]
        self._projects: dict[str, jedi.Project] = {}
        #: Answers kept on disk (gradguard.answers); keys name what an answer depends on
        #: besides its files: this gradguard, the environment (what jedi's default one
        #: is chosen by, or the explicit one's interpreter), the roots, the deny list.
        self.store = store
        self._store_scope = json.dumps(
            [
                __version__,
                *self._environment_id,
                self.project_root,
                self.extra_paths,
                sorted(self.deny),
            ]
        )
        self._cache: OrderedDict[tuple[str, str], _Answer] = OrderedDict()
        self._module_dirs: set[tuple[str, str]] = set()  # (directory, name): holds a module
        self._roots: tuple[str, ...] | None = None
        self._pending: dict[tuple[str, str], _Job] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._current: _Job | None = None
        self._closed = False
        #: Number of queries that actually ran jedi (for tests and statistics).
        self.jedi_queries = 0
        self._worker: threading.Thread | None = None  # started with the first query
        #: Other workspace modules' function summaries, found by path (not by jedi).
        self.workspace = WorkspaceModules(
            lambda: (self.project_root, *self.extra_paths),
            project_root=self.project_root,
            background=mode == "nonblocking",
            on_ready=self._workspace_ready,
        )

    # -- public API ---------------------------------------------------------------

    def classify(self, qualified_name: str, path: str) -> SymbolKind | None:
        answer, settled = self._answer(qualified_name, path)
        trace = _trace.get()
        if trace is not None:
            trace.append(_traced(answer, settled))
        return answer.kind if answer else None

    def workspace_function(self, qualified_name: str, path: str) -> Found | None:
        """The summary of a function of another workspace module (``utils.replace_head``
        as imported by ``path``) and that module's name, or None (unknown)."""
        lookup = self.workspace.function(qualified_name, path)
        trace = _trace.get()
        if trace is not None and lookup.deps:
            trace.append(Traced(None, lookup.deps, settled=lookup.settled, unknown=False))
        return lookup.found

    def _workspace_ready(self, qualified_name: str) -> None:
        if self.on_resolved is not None:
            self.on_resolved(qualified_name)

    def describe_class(self, qualified_name: str, path: str) -> str | None:
        """Where ``qualified_name`` (as imported by ``path``) is defined, for hovers:
        ``"pkg.models.Net (class defined in pkg/models.py line 5)"``."""
        answer = self._ask(qualified_name, path)
        return answer.description if answer else None

    def warm_up(self, timeout: float | None = 30.0) -> bool:
        """Load ``torch.nn.Module`` and ``torch.optim.Optimizer`` into jedi's caches
        (the cold first query costs 0.5-1 s). Blocks up to ``timeout``; True when done.
        The LSP server may call ``gc.freeze()`` afterwards (hazard 3)."""
        return self._run_task(self._warm).wait(timeout)

    def clear_cache(self, *, parse_trees: bool = False) -> None:
        """Forget every answer. With ``parse_trees``, also drop parso's in-memory
        parse trees (the bulk of jedi's memory); that runs on the worker thread,
        between queries, so jedi never holds a tree that was evicted (hazard 2)."""
        with self._lock:
            self._cache.clear()
            self._module_dirs.clear()
        if parse_trees:
            self._run_task(self._drop_unpinned_trees)

    def _run_task(self, task: Callable[[], None]) -> threading.Event:
        job = _Job(("<task>", ""), "<task>", None, task=task)
        if self._closed:
            job.done.set()
        else:
            with self._lock:
                self._start_worker()
            self._queue.put(job)
        return job.done

    def _start_worker(self) -> None:
        """Start jedi (its settings, the worker thread) for the first query; under the
        lock. Configured here, on the asking thread, so the ``ast`` lock is in place
        before the worker's parso reads a file (gradguard.astlock)."""
        if self._worker is None:
            configure_jedi()
            self._collected_at_mib = jedi_memory.rss_mib() or 0.0
            self._worker = threading.Thread(target=self._run, name="gradguard-jedi", daemon=True)
            self._worker.start()

    def _jedi_environment(self) -> Any:
        """jedi's environment (on the worker thread)."""
        if self._environment is None:
            import jedi

            self._environment = jedi.get_default_environment()
        return self._environment

    def close(self) -> None:
        """Stop the worker (a running jedi query is not interrupted)."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)

    def __enter__(self) -> JediResolver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- asking -------------------------------------------------------------------

    def _ask(self, qualified: str, path: str) -> _Answer | None:
        return self._answer(qualified, path)[0]

    def knows(self, qualified: str, path: str) -> bool:
        """Whether :meth:`classify` would answer without running jedi (a name it never
        follows, an answer in memory or on disk): what a question costs, for
        demand-driven resolution (analysis.demand)."""
        found = self._known(qualified, path)
        return found is None or found[1] is not None

    def _known(self, qualified: str, path: str) -> tuple[tuple[str, str], _Answer | None] | None:
        """(key, the answer known without jedi or None); None for a name never asked."""
        if not _valid_qualified(qualified) or self._is_denied(qualified):
            return None
        real_path = _real_path(path)
        context = os.path.dirname(real_path) if real_path else (self.project_root or "")
        if self.skip_stdlib and self._is_unshadowed_stdlib(qualified, context):
            return ("", qualified), _STDLIB_ANSWER
        key = (self._answer_context(qualified, context), qualified)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                if cached.is_valid():
                    self._cache.move_to_end(key)
                    return key, cached
                del self._cache[key]
        stored = self._stored(key)
        if stored is not None:
            with self._lock:
                self._cache[key] = stored
        return key, stored

    def _answer(self, qualified: str, path: str) -> tuple[_Answer | None, bool]:
        """The answer (None: unknown) and whether it is final (False: the caller gave
        up waiting, so a later run may know more)."""
        known = self._known(qualified, path)
        if known is None:
            return None, True
        key, answer = known
        if answer is not None:
            return answer, True
        real_path = _real_path(path)
        with self._lock:
            if self._closed:
                return None, False
            job = self._pending.get(key)
            if job is None:
                job = self._pending[key] = _Job(key, qualified, real_path)
                self._start_worker()
                self._queue.put(job)
            current = self._current
            stalled = current is not None and current.late and current is not job
        wait = self.timeout
        if self.mode == "blocking" and stalled:
            wait = 0.0
        if job.done.wait(wait):
            return job.answer, True
        with self._lock:
            if not job.done.is_set():
                job.late = True
                return None, False
        return job.answer, True

    def _answer_context(self, qualified: str, context: str) -> str:
        """The directory an answer about ``qualified`` asked from ``context`` depends on.

        jedi resolves a relative name from the asking package, and an absolute one
        from the project root, the environment and the asking file's parent
        directories up to the root. So an absolute name none of those parents shadows
        (no ``top.py`` or ``top/`` in them) means the same from every directory of the
        project and is asked once; otherwise its answer is kept per shadowing directory.
        """
        root = self.project_root
        if qualified.startswith(".") or root is None:
            return context
        top = qualified.split(".", 1)[0]
        directory = context
        while directory.startswith(root + os.sep):
            if self._holds_module(directory, top):
                return directory
            parent = os.path.dirname(directory)
            if parent == directory:
                break
            directory = parent
        return ""

    def _holds_module(self, directory: str, top: str) -> bool:
        # Only a module found is remembered: one added later is seen at the next question
        # (a module removed only keeps that directory's answers apart, which is safe).
        key = (directory, top)
        if key in self._module_dirs:
            return True
        if _has_module(directory, top):
            self._module_dirs.add(key)
            return True
        return False

    def _is_unshadowed_stdlib(self, qualified: str, context: str) -> bool:
        """A standard-library name no workspace module shadows: never a module,
        optimizer or factory, and jedi's typeshed lookups for them cost up to
        0.8 s cold (``os.path.join``)."""
        top = qualified.split(".", 1)[0]
        if qualified.startswith(".") or top not in _STDLIB:
            return False
        roots = {context, *(r for r in (self.project_root,) if r), *self.extra_paths}
        return not any(_has_module(root, top) for root in roots)

    def _is_denied(self, qualified: str) -> bool:
        if qualified.startswith("."):
            return False  # relative: the workspace's own code
        return qualified.split(".", 1)[0] in self.deny

    # -- worker ---------------------------------------------------------------------

    def _run(self) -> None:
        _deny_state.deny = self.deny
        while True:
            job = self._queue.get()
            if job is None:
                return
            with self._lock:
                self._current = job
            try:
                if job.task is not None:
                    job.task()
                    answer = _Answer(None)
                else:
                    answer = self._compute(job.qualified, job.path)
                    self._keep(job.key, answer)
            except Exception:  # jedi failures are many and varied; never propagate
                log.exception("jedi failed on %s (from %s)", job.qualified, job.path)
                answer = _Answer(None, expires=time.monotonic() + self.negative_ttl)
            self._bound_memory()  # before answering: a caller sees memory bounded
            with self._lock:
                self._current = None
                job.answer = answer
                if job.task is None:
                    self._cache[job.key] = answer
                    while len(self._cache) > self.max_entries:
                        self._cache.popitem(last=False)
                self._pending.pop(job.key, None)
                job.done.set()
                late = job.late
            if late and self.on_resolved is not None:
                try:
                    self.on_resolved(job.qualified)
                except Exception:
                    log.exception("on_resolved callback failed for %s", job.qualified)

    def _drop_unpinned_trees(self) -> None:
        jedi_memory.drop_parse_trees(self._pinned_trees)

    def _bound_memory(self) -> None:
        """Between queries (no jedi Script alive, so no tree is in use: hazard 2), drop
        parso's trees once more than ``max_parsed_modules`` besides the warm-up's, and
        free the queries' cyclic garbage once RSS grew by ``collect_after_growth_mib``."""
        if jedi_memory.parsed_count() - len(self._pinned_trees) > self.max_parsed_modules:
            dropped = jedi_memory.drop_parse_trees(self._pinned_trees)
            self.parse_tree_trims += 1
            log.debug("dropped %d parse trees from memory", dropped)
        elif (
            jedi_memory.rss_mib() or 0.0
        ) > self._collected_at_mib + self.collect_after_growth_mib:
            gc.collect()
        else:
            return
        self._collected_at_mib = jedi_memory.rss_mib() or 0.0

    def _store_key(self, key: tuple[str, str]) -> str:
        return json.dumps([self._store_scope, *key])

    def _places_for(self, qualified: str, path: str | None) -> list[str]:
        """The directories a module of ``qualified`` could be added to: the asking
        file's, each search root, and every existing package directory on the way
        from one of them towards the name (``pkg/``, ``pkg/sub/`` for ``pkg.sub.mod.X``)."""
        asking = os.path.dirname(path) if path else None
        parts = qualified.lstrip(".").split(".")[:-1]
        bases = [asking] if qualified.startswith(".") else [asking, *self._search_roots()]
        places: list[str] = []
        for base in filter(None, bases):
            places.append(base)
            for part in parts:
                base = os.path.join(base, part)
                if not os.path.isdir(base):
                    break
                places.append(base)
        return list(dict.fromkeys(places))

    def _search_roots(self) -> tuple[str, ...]:
        """The directories imports are searched in: the project, the extra paths and
        the environment's ``sys.path`` (asked of the environment once)."""
        if self._roots is None:
            try:
                environment = [str(p) for p in self._jedi_environment().get_sys_path()]
            except Exception:  # jedi could not ask the interpreter: the roots we know
                environment = []
            roots = [self.project_root, *self.extra_paths, *environment]
            self._roots = tuple(dict.fromkeys(r for r in roots if r and os.path.isdir(r)))
        return self._roots

    def _stored(self, key: tuple[str, str]) -> _Answer | None:
        """An answer kept on disk by an earlier run or another worker, if still valid.
        In the editor (``nonblocking``) only what jedi found: a name it could not find
        is asked again in the background there, as the user may be writing it."""
        if self.store is None:
            return None
        stored = self.store.get(self._store_key(key))
        if stored is None:
            return None
        kind, description, deps, _ = stored
        try:
            found = SymbolKind(kind) if kind else None
        except ValueError:
            return None  # written by a gradguard that knew other kinds
        if found is None and self.mode == "nonblocking":
            return None
        expires = None if found else time.monotonic() + self.negative_ttl
        answer = _Answer(found, description, tuple(deps), expires)
        return answer if answer.is_valid() else None

    def _keep(self, key: tuple[str, str], answer: _Answer) -> None:
        """Keep a computed answer on disk; a name jedi could not resolve for a day at
        most (its deps are the directories a module of that name could appear in)."""
        if self.store is not None:
            kind = answer.kind.value if answer.kind is not None else ""
            expires = None if answer.kind is not None else time.time() + STORED_UNKNOWN_S
            stored = (kind, answer.description, list(answer.deps), expires)
            self.store.put(self._store_key(key), stored)

    def _project_for(self, path: str | None) -> jedi.Project:
        import jedi

        root = self.project_root or (path and package_root(path)) or os.getcwd()
        project = self._projects.get(root)
        if project is None:
            project = jedi.Project(
                root,
                added_sys_path=list(self.extra_paths),
                smart_sys_path=True,
                load_unsafe_extensions=False,  # never load workspace extension modules
            )
            self._projects[root] = project
        return project

    def _script(self, code: str, path: str | None) -> jedi.Script:
        # The snippet is given a made-up sibling file name, not ``path`` itself:
        # relative imports and the smart sys.path only depend on the directory,
        # and jedi (through parso's diff cache) stores the parsed snippet under
        # the path it is given, where it would shadow the real file for later
        # queries that import it.
        probe = os.path.join(os.path.dirname(path), _PROBE_FILE) if path else None
        import jedi

        project, environment = self._project_for(path), self._jedi_environment()
        return jedi.Script(code, path=probe, project=project, environment=environment)

    def _warm(self) -> None:
        code = f"import torch\n{_PROBE} = torch.optim.SGD\n{_PROBE}"
        script = self._script(code, None)
        for name in script.infer(3, len(_PROBE)):
            _mro_qualnames(name)
        code = f"import torch\n{_PROBE} = torch.nn.Linear\n{_PROBE}"
        for name in self._script(code, None).infer(3, len(_PROBE)):
            _mro_qualnames(name)
        self._pinned_trees = jedi_memory.parsed_paths()

    def _compute(self, qualified: str, path: str | None) -> _Answer:
        self.jedi_queries += 1
        # Unknown names are re-asked when the asking file's directory or a directory
        # imports are searched in changes (a module was added or removed, a package
        # installed), when a module the import named changes (the name was added to
        # it), and after ``negative_ttl`` anyway.
        missing = {d: mtime_ns(d) for d in self._places_for(qualified, path)}
        for code, module_column, line, column in _snippets(qualified):
            script = self._script(code, path)
            modules = script.infer(1, module_column)
            names = script.infer(line, column)
            if not names:
                for module in modules:
                    _add_dep(missing, module)
                continue
            deps: dict[str, int | None] = {}
            for module in modules:
                _add_dep(deps, module)
            kind = self._kind_of(names, deps)
            return _Answer(kind, _describe(names[0], self.project_root), tuple(deps.items()))
        return _Answer(
            None, deps=tuple(missing.items()), expires=time.monotonic() + self.negative_ttl
        )

    def _kind_of(self, names: list[Any], deps: dict[str, int | None]) -> SymbolKind:
        kind = SymbolKind.OTHER
        for name in names:
            _add_dep(deps, name)
            if name.type == "class":
                qualnames = _mro_qualnames(name, deps)
                if qualnames & MODULE_QUALNAMES:
                    return SymbolKind.MODULE_CLASS
                if qualnames & OPTIMIZER_QUALNAMES:
                    return SymbolKind.OPTIMIZER_CLASS
            elif name.type == "function":
                for result in name.execute():
                    if (
                        result.type == "instance"
                        and _mro_qualnames(result, deps) & MODULE_QUALNAMES
                    ):
                        kind = SymbolKind.MODULE_FACTORY
        return kind


# -- jedi helpers ---------------------------------------------------------------------


def _has_module(directory: str, name: str) -> bool:
    """``directory`` holds a module or package ``name`` (``name.py`` or ``name/``)."""
    base = os.path.join(directory, name)
    return os.path.exists(base + ".py") or os.path.isdir(base)


def _mro_qualnames(name: Any, deps: dict[str, int | None] | None = None) -> set[str]:
    """Qualified names of every class in the MRO of the class ``name`` (or of the
    class of the instance ``name``).

    jedi's public API has no bases/MRO accessor, and probing a Module/Optimizer-only
    attribute is unreliable (``Lamb.add_param_group`` infers to ``typing.Callable``
    through torch's decorators), so this uses jedi's own MRO (``py__mro__``) on the
    values behind ``Name._name.infer()``.
    """
    result: set[str] = set()
    for value in name._name.infer():
        cls = value if value.is_class() else value.py__class__()
        mro = getattr(cls, "py__mro__", None)
        if mro is None:
            continue
        for klass in mro():
            qualname = _value_qualname(klass)
            if qualname:
                result.add(qualname)
            if deps is not None:
                path = klass.get_root_context().py__file__()
                if path is not None:
                    deps.setdefault(str(path), mtime_ns(str(path)))
    return result


def _value_qualname(klass: Any) -> str | None:
    try:
        module = klass.get_root_context().py__name__()
        names = klass.get_qualified_names()
    except Exception:
        return None
    if not module or not names:
        return None
    return f"{module}.{'.'.join(names)}"


def _add_dep(deps: dict[str, int | None], name: Any) -> None:
    module_path = getattr(name, "module_path", None)
    if module_path is not None:
        deps.setdefault(str(module_path), mtime_ns(str(module_path)))


def _describe(name: Any, project_root: str | None) -> str:
    full = name.full_name or name.name
    where = ""
    if name.module_path is not None:
        shown = str(name.module_path)
        if project_root:
            try:
                relative = os.path.relpath(shown, project_root)
                if not relative.startswith(".."):
                    shown = relative
            except ValueError:
                pass
        where = f" defined in {shown}" + (f" line {name.line}" if name.line else "")
    return f"{full} ({name.type}{where})"


def _snippets(qualified: str) -> Iterator[tuple[str, int, int, int]]:
    """Synthetic scripts that import ``qualified`` and reference it on line 2.

    Yields (code, column of the module name on line 1, line, column of the end
    of the reference). Which prefix of ``a.b.C`` is the module is unknown, so the
    longest module prefix is tried first (``from a.b import C``), then shorter
    ones (``from a import b`` + ``b.C``).
    """
    stripped = qualified.lstrip(".")
    dots = qualified[: len(qualified) - len(stripped)]
    parts = stripped.split(".") if stripped else []
    if not dots and len(parts) == 1:
        code = f"import {parts[0]} as {_PROBE}\n{_PROBE}"
        yield code, len("import ") + len(parts[0]) - 1, 2, len(_PROBE)
        return
    lowest = 0 if dots else 1
    for split in range(len(parts) - 1, lowest - 1, -1):
        module = dots + ".".join(parts[:split])
        rest = parts[split + 1 :]
        reference = ".".join([_PROBE, *rest])
        code = f"from {module} import {parts[split]} as {_PROBE}\n{reference}"
        yield code, len("from ") + len(module) - 1, 2, len(reference)


def _valid_qualified(qualified: str) -> bool:
    stripped = qualified.lstrip(".")
    if not stripped:
        return False
    return all(p.isidentifier() and not keyword.iskeyword(p) for p in stripped.split("."))


def _real_path(path: str) -> str | None:
    if not path or path.startswith("<"):
        return None  # "<stdin>" and friends: no directory to resolve against
    return os.path.abspath(path)
