"""Workspace state: what is open, what was analysed, and when to analyse again.

The unit of analysis is a *target*: a text document, or a notebook (all its
code cells together). Each analysis runs on a worker thread (never on the
event loop) against a snapshot of the text; its result is cached per target as
a :class:`Snapshot` keyed by the document version and the settings
generation. A result that comes back for a version that is no longer current is
dropped: a newer analysis is already scheduled. Code actions and hovers read the
cache; they never run the analysis.

Edits are debounced (``debounceMs``, default 300 ms, 0 allowed); open and save
analyse at once. After an edit only the definitions it can affect are analysed
again (:mod:`gradguard.incremental`, setting ``incremental``); such a result is
*partial*, and the whole file is analysed once typing pauses for
``FULL_CHECK_IDLE_S``: if that finds something else, it is published too.

Pull clients (``textDocument/diagnostic``) get the analysis of the version they
ask about, run on demand (and a refresh request if the full check differs);
push clients get ``textDocument/publishDiagnostics`` after each analysis.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import attrs
from lsprotocol import types
from pygls.uris import to_fs_path, uri_scheme

from gradguard.analysis.resolution import SymbolResolver
from gradguard.answers import AnswerStore
from gradguard.config import Config, find_config, load_config_file
from gradguard.engine import AnalysisCancelled
from gradguard.findings import AnalysisResult, Finding, Position, Span
from gradguard.incremental import Baseline, analyze_edit
from gradguard.lsp import convert
from gradguard.lsp.notebooks import NotebookProgram, build_program
from gradguard.lsp.settings import Settings
from gradguard.noqa import NoqaComment, comments
from gradguard.source import SourceFile

log = logging.getLogger(__name__)

VersionKey = tuple[Any, ...]

#: Seconds after which an analysis starts no further rule (the rules left are
#: named in a notice); a keystroke's analysis normally takes milliseconds.
ANALYSIS_TIME_LIMIT = 5.0

#: Seconds without a new analysis before the hover index of a hovered document's
#: new version is built in the background.
SYMBOLS_IDLE_S = 0.5
# Analysed versions whose tree and indexes stay alive for hovers (the documents the
# user is working in; the rest are rebuilt on demand).
KEPT_FACTS = 4
# Analysed versions that keep what the next edit's incremental analysis builds on (its
# lines and units weigh about eight times the text: 29 MB for 100 files of torch). A
# document analysed longer ago than these is analysed in full at its next edit.
KEPT_BASELINES = 8
#: Seconds without an edit before a partial (incremental) result is checked by a
#: full analysis of the file (which takes most of a second at 10,000 lines: a
#: shorter pause would mostly start checks that the next keystroke abandons).
FULL_CHECK_IDLE_S = 1.0


@dataclass(frozen=True)
class View:
    """One client document of a snapshot: a text document or a notebook cell."""

    uri: str
    version: int | None
    lines: list[str]


@dataclass
class Snapshot:
    """An analysis result and everything needed to translate it."""

    key: str  # document uri, or notebook uri
    version: VersionKey
    generation: int
    text: str
    path: str
    config: Config
    settings: Settings
    result: AnalysisResult
    encoding: str
    views: dict[str, View]
    notebook: NotebookProgram | None = None
    resolver: SymbolResolver | None = None
    elapsed_ms: float = 0.0
    #: Qualified names the analysis asked the resolver about: a jedi answer for
    #: one of them re-analyses this target, and only this target.
    queried: frozenset[str] = frozenset()
    #: The workspace's resolver epoch of this target when the analysis started.
    epoch: int = 0
    #: The analysis's tree and indexes, kept for the most recent snapshots only
    #: (``Workspace`` drops older ones) so a hover index needs no second parse.
    facts: Any = field(default=None, repr=False)
    #: What the next edit's incremental analysis builds on (None: analyse in full).
    baseline: Baseline | None = field(default=None, repr=False)
    #: False for an incremental result not yet confirmed by a full analysis.
    exact: bool = True
    _symbols: Any = field(default=None, repr=False)
    _comments: dict[int, list[NoqaComment]] | None = field(default=None, repr=False)
    #: Findings as last published, by identity (a finding carried over by the
    #: incremental analysis is the same object): the previous snapshot's, then this one's.
    converted_before: dict[int, tuple[Finding, types.Diagnostic]] = field(
        default_factory=dict, repr=False
    )
    converted: dict[int, tuple[Finding, types.Diagnostic]] = field(default_factory=dict, repr=False)
    #: Per-snapshot results of request handlers (e.g. fix-all), computed once.
    memo: dict[Any, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def result_id(self) -> str:
        partial = "" if self.exact else ":partial"
        return f"{self.generation}:{':'.join(str(v) for v in self.version)}{partial}"

    @property
    def source(self) -> SourceFile:
        return SourceFile(self.text, self.path)

    # -- coordinates ------------------------------------------------------------

    def locate(self, span: Span, *, editable: bool = False) -> tuple[View, Span] | None:
        """The client document holding ``span`` and the span in its coordinates
        (``editable``: None on a masked IPython line of a notebook, see to_cell)."""
        if self.notebook is None:
            return next(iter(self.views.values())), span
        mapped = self.notebook.to_cell(span, editable=editable)
        if mapped is None:
            return None
        cell, local = mapped
        cell_view = self.views.get(cell.key)
        return (cell_view, local) if cell_view else None

    def line_map(self, view: View) -> convert.LineMap:
        return convert.LineMap(view.lines, self.encoding)

    def program_position(self, uri: str, position: types.Position) -> Position | None:
        view = self.views.get(uri)
        if view is None:
            return None
        local = self.line_map(view).from_lsp(position)
        if self.notebook is None:
            return local
        return self.notebook.from_cell(uri, local)

    def describe_line(self, line: int) -> str:
        """``line 12``, or ``cell 2, line 1`` in a notebook (1-based, as people count)."""
        if self.notebook is None:
            return f"line {line + 1}"
        for index, cell in enumerate(self.notebook.cells, 1):
            if cell.first_line <= line < cell.first_line + cell.line_count:
                return f"cell {index}, line {line - cell.first_line + 1}"
        return f"line {line + 1}"

    # -- diagnostics ------------------------------------------------------------

    def diagnostics(self) -> dict[str, list[types.Diagnostic]]:
        """Diagnostics per client document (every view present, maybe empty)."""
        out: dict[str, list[types.Diagnostic]] = {uri: [] for uri in self.views}
        converted: dict[int, tuple[Finding, types.Diagnostic]] = {}
        for finding in self.result.findings:
            earlier = self.converted_before.get(id(finding))
            if earlier is not None and earlier[0] is finding and self.notebook is None:
                # Carried over unmoved from the previous version (gradguard.incremental):
                # its lines are unchanged, only the version in its data differs.
                view = next(iter(self.views.values()))
                data = {**cast(dict[str, Any], earlier[1].data), "version": view.version}
                diagnostic = attrs.evolve(earlier[1], data=data)
            else:
                located = self.locate(finding.span)
                if located is None:
                    continue
                view, local = located
                diagnostic = self._diagnostic(finding, view, local)
            converted[id(finding)] = (finding, diagnostic)
            out[view.uri].append(diagnostic)
        if self.baseline is not None:  # else no edit can carry a finding over from here
            self.converted = converted
        error = self.result.parse_error
        located = self.locate(Span(error.position, error.position)) if error else None
        if error and located and self.settings.show_syntax_errors:
            out[located[0].uri].append(
                convert.syntax_error(error.message, self.line_map(located[0]), located[1])
            )
        return out

    def _diagnostic(self, finding: Finding, view: View, local: Span) -> types.Diagnostic:
        diagnostic = convert.diagnostic(
            finding,
            self.line_map(view),
            uri=view.uri,
            version=view.version,
            span=local,
        )
        if finding.related:
            related = []
            for item in finding.related:
                where = self.locate(item.span)
                if where is None:
                    continue
                related_view, related_span = where
                related.append(
                    types.DiagnosticRelatedInformation(
                        location=types.Location(
                            uri=related_view.uri,
                            range=self.line_map(related_view).range_to_lsp(related_span),
                        ),
                        message=item.message,
                    )
                )
            diagnostic.related_information = related or None
        return diagnostic

    # -- comments (lazy, once per snapshot) ---------------------------------------

    def noqa_comments_on(self, line: int) -> list[NoqaComment]:
        """The comments of a program line that mention ``noqa``.

        A comment lies on one physical line, so a line whose text does not contain
        ``noqa`` has none and nothing is tokenized (the common case of a code
        action). Otherwise the file is tokenized once per snapshot (a line inside a
        multi-line string is only known to hold no comment from the whole file).
        """
        if "noqa" not in self.source_line(line).lower():
            return []
        with self._lock:
            if self._comments is None:
                by_line: dict[int, list[NoqaComment]] = {}
                for comment in comments(self.text):
                    if "noqa" in comment.text.lower():
                        by_line.setdefault(comment.line, []).append(comment)
                self._comments = by_line
            return self._comments.get(line, [])

    def source_line(self, line: int) -> str:
        """One program line, without splitting the whole text."""
        if self.notebook is None and len(self.views) == 1:
            lines = next(iter(self.views.values())).lines
            if 0 <= line < len(lines):
                return lines[line]
            return ""
        return self.source.line_text(line)

    # -- hover symbols (lazy, computed on a worker thread) ----------------------

    def symbols(self) -> Any:
        from gradguard.lsp.symbols import SymbolIndex

        with self._lock:
            if self._symbols is None:
                self._symbols = SymbolIndex.build(self)
            return self._symbols


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

    def queried(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self.names)


@dataclass(frozen=True)
class AnalysisRequest:
    key: str
    version: VersionKey
    generation: int
    text: str
    path: str
    config: Config
    settings: Settings
    encoding: str
    views: dict[str, View]
    notebook: NotebookProgram | None
    resolver: SymbolResolver | None
    epoch: int = 0
    recorder: RecordingResolver | None = None
    #: The previous version's analysis, for an incremental one (None: in full).
    baseline: Baseline | None = None
    #: Names the baseline's analyses asked the resolver about.
    baseline_queried: frozenset[str] = frozenset()
    #: Names jedi has answered since the baseline (their answers may differ).
    answered: frozenset[str] = frozenset()
    #: Said once per document: the text had to be repaired to be analysed.
    notice: str | None = None


class AnalysisFailed(Exception):
    """The analysis of a target raised; :meth:`Workspace.report_failure` has reported it."""


def run_analysis(
    request: AnalysisRequest, cancelled: Callable[[], bool] | None = None
) -> Snapshot | None:
    """The worker-thread part: the engine on a snapshot of the text (never raises).
    None when ``cancelled()`` turned True between two rules."""
    started = time.perf_counter()
    baseline, exact, queried = None, True, frozenset[str]()
    if not request.settings.enable or request.config.is_excluded(request.path):
        result, facts = AnalysisResult(), None
    else:
        try:
            analysis = analyze_edit(
                request.text,
                request.path,
                baseline=request.baseline,
                answered=request.answered,
                config=request.config,
                resolver=request.recorder or request.resolver,
                time_limit=ANALYSIS_TIME_LIMIT,
                cancelled=cancelled,
            )
        except AnalysisCancelled:
            return None
        result, facts, baseline, exact = (
            analysis.result,
            analysis.facts,
            analysis.baseline,
            analysis.exact,
        )
        if analysis.mode != "full":  # findings carried over came from earlier questions
            queried = request.baseline_queried
    if request.recorder:
        queried |= request.recorder.queried()
    if request.notice is not None:
        result = dataclasses.replace(
            result,
            findings=_without_replacement_fixes(result.findings),
            notices=[request.notice, *result.notices],
        )
    return Snapshot(
        key=request.key,
        version=request.version,
        generation=request.generation,
        text=request.text,
        path=request.path,
        config=request.config,
        settings=request.settings,
        result=result,
        encoding=request.encoding,
        views=request.views,
        notebook=request.notebook,
        resolver=request.resolver,
        elapsed_ms=(time.perf_counter() - started) * 1000,
        queried=queried,
        epoch=request.epoch,
        facts=facts,
        baseline=baseline,
        exact=exact,
    )


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def readable_text(text: str, path: str) -> tuple[str, str | None]:
    """The text to analyse and, when it is not, a notice. A client may send lone
    UTF-16 surrogates (``\\ud800`` in JSON), which no Python parser accepts: each is
    analysed as U+FFFD, one code point and one UTF-16 unit like it, so every position
    stays right (the CLI, reading bytes, reports such a file instead)."""
    found = _LONE_SURROGATE.search(text)
    if found is None:
        return text, None
    line = text.count("\n", 0, found.start()) + 1
    notice = (
        f"{path}:{line}: U+{ord(found.group()):04X} is a lone surrogate, not a character; "
        "analysed as if each such code were U+FFFD (fixes that would rewrite one are not offered)"
    )
    return _LONE_SURROGATE.sub("\ufffd", text), notice


def _without_replacement_fixes(findings: list[Finding]) -> list[Finding]:
    """A fix must never write U+FFFD over the user's own (odd) text."""
    return [
        dataclasses.replace(f, fixes=())
        if any("\ufffd" in e.new_text for fix in f.fixes for e in fix.edits)
        else f
        for f in findings
    ]


def uri_to_path(uri: str) -> str:
    if uri_scheme(uri) == "file":
        return to_fs_path(uri) or uri
    return uri


class Workspace:
    """Open targets, their cached analyses, settings and the scheduling of work.

    ``host`` is the thin LSP side (see :mod:`gradguard.lsp.server`): it reads
    documents from pygls' workspace and sends notifications.
    """

    def __init__(self, host: Any) -> None:
        self.host = host
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="gradguard-analysis")
        self.snapshots: dict[str, Snapshot] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._full_checks: dict[str, asyncio.TimerHandle] = {}
        self._checks_running: dict[str, threading.Event] = {}  # set: abandon the check
        self._tasks: set[asyncio.Task[None]] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._published: dict[str, set[str]] = {}  # target -> client uris with diagnostics
        self._published_versions: dict[str, int] = {}  # client uri -> newest version shown
        self.generation = 0
        self.init_settings = Settings()
        self.folder_settings: dict[str, Settings] = {}
        self.settings_ready = asyncio.Event()
        self._pyprojects: dict[str, tuple[float, Config]] = {}
        self._resolvers: dict[tuple[Any, ...], Any] = {}
        self._reported: set[str] = set()
        self._noticed: dict[str, set[str]] = {}  # target -> engine notices already shown
        self._refresh_pending = False
        self._answered: set[str] = set()  # names answered since the last refresh
        self._epochs: dict[str, int] = {}  # target -> resolver epoch (bumped by answers)
        # target -> {epoch: the names whose answers bumped the epoch to it}
        self._answers_at: dict[str, dict[int, set[str]]] = {}
        self._in_flight: dict[str, list[RecordingResolver]] = {}
        # Documents whose latest snapshot keeps its facts, least recently analysed first.
        self._recent_facts: OrderedDict[str, Snapshot] = OrderedDict()
        # The same for the incremental analysis's baselines.
        self._recent_baselines: OrderedDict[str, Snapshot] = OrderedDict()
        self.loop: asyncio.AbstractEventLoop | None = None

    # -- settings -----------------------------------------------------------------

    def folders(self) -> list[str]:
        return [f.uri for f in self.host.workspace_folders()]

    def folder_of(self, uri: str) -> str | None:
        matches = [f for f in self.folders() if uri == f or uri.startswith(f.rstrip("/") + "/")]
        return max(matches, key=len) if matches else None

    def settings_for(self, uri: str) -> Settings:
        folder = self.folder_of(uri)
        if folder is not None and folder in self.folder_settings:
            return self.folder_settings[folder]
        return self.folder_settings.get("", self.init_settings)

    def window_settings(self) -> Settings:
        """Settings of no particular file (notifications, the log): the first folder's."""
        return next(iter(self.folder_settings.values()), self.init_settings)

    def project_config(self, path: str, uri: str) -> Config:
        folder = self.folder_of(uri)
        root = uri_to_path(folder) if folder else str(Path(path).parent)
        configured = self.settings_for(uri).config_file(root)  # gradguard.configuration
        if not Path(path).is_absolute() and configured is None:
            return Config(root=root)
        pyproject = configured or find_config(Path(path))
        if pyproject is None:
            return Config(root=root)
        try:
            mtime = pyproject.stat().st_mtime
        except OSError:
            if configured is None:
                return Config(root=root)
            mtime = -1.0  # a configured file that is missing: load_config_file says so
        cached = self._pyprojects.get(str(pyproject))
        if cached is None or cached[0] != mtime:
            cached = (mtime, load_config_file(pyproject))
            self._pyprojects[str(pyproject)] = cached
        return cached[1]

    def forget_pyprojects(self) -> None:
        self._pyprojects.clear()

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

    def settings_changed(self) -> None:
        """New settings or project files: everything open is analysed again."""
        self.generation += 1
        self.resolve_again()

    # -- resolver -----------------------------------------------------------------

    def resolver_for(self, uri: str, settings: Settings) -> SymbolResolver | None:
        folder = self.folder_of(uri)
        root = uri_to_path(folder) if folder else self.host.root_path()
        if not root:
            return None
        key = (root, settings.interpreter, settings.extra_paths)
        if key in self._resolvers:
            return self._resolvers[key]
        resolver = None
        try:
            from gradguard.resolver import JediResolver  # jedi stays out of the engine
        except ImportError as error:
            log.warning("jedi resolver unavailable: %s", error)
            self._resolvers[key] = None
            return None
        extra_paths = tuple(str(Path(root, p)) for p in settings.extra_paths)
        try:
            resolver = JediResolver(
                root,
                environment_path=settings.interpreter,
                extra_paths=extra_paths,
                timeout=0.0,  # cache-only reads: the keystroke path never waits on jedi
                mode="nonblocking",
                store=AnswerStore.default(),  # answers of earlier sessions, while valid
            )
        except Exception as error:  # a bad interpreter: the file-only analysis still works
            if settings.interpreter is None:
                log.warning("jedi resolver unavailable for %s: %s", root, error)
            else:
                self.report_problems(
                    [
                        f"settings: gradguard.interpreter: {settings.interpreter!r} is not a "
                        f"usable Python environment ({error}); resolving without jedi"
                    ]
                )
            self._resolvers[key] = None
            return None
        resolver.on_resolved = self._resolved_from_thread
        threading.Thread(
            target=_warm_up, args=(resolver,), name="gradguard-jedi-warm-up", daemon=True
        ).start()
        self._resolvers[key] = resolver
        return resolver

    def _resolved_from_thread(self, qualified_name: Any = None, *args: Any) -> None:
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._resolved, qualified_name)

    def _resolved(self, qualified_name: Any = None) -> None:
        """A late jedi answer: re-analyse only the targets whose analysis (cached
        or in flight) asked about that name. Answers land in bursts: they are
        coalesced into one re-analysis per target. The settings generation is not
        bumped, so an analysis in flight for the newest version is still published
        (then the refined one)."""
        if self.loop is None:
            return
        if isinstance(qualified_name, str):
            self._answered.add(qualified_name)
        else:
            self._answered.add("*")  # unknown name: every target may depend on it
        if self._refresh_pending:
            return
        self._refresh_pending = True
        self.loop.call_later(0.05, self._refresh_answered)

    def _refresh_answered(self) -> None:
        self._refresh_pending = False
        names, self._answered = self._answered, set()
        affected = self.affected_by(names)
        for key in affected:
            epoch = self._epochs[key] = self._epochs.get(key, 0) + 1
            self._answers_at.setdefault(key, {})[epoch] = names
        if not affected:
            return
        if self.host.pull_mode:
            self.host.request_diagnostic_refresh()
        else:
            for key in affected:
                self.schedule(key, 0)

    def affected_by(self, names: set[str]) -> list[str]:
        """The open targets whose cached or in-flight analysis asked about a name."""
        everything = "*" in names
        affected = []
        for key in self._open_targets():
            asked: set[str] = set()
            snapshot = self.snapshots.get(key)
            if snapshot is not None:
                asked |= snapshot.queried
            for recorder in self._in_flight.get(key, ()):
                asked |= recorder.queried()
            if asked and (everything or not names.isdisjoint(asked)):
                affected.append(key)
        return affected

    def resolve_again(self) -> None:
        if self.host.pull_mode:
            self.host.request_diagnostic_refresh()
        else:
            for key in list(self._open_targets()):
                self.schedule(key, 0)

    # -- targets ------------------------------------------------------------------

    def _open_targets(self) -> Iterator[str]:
        seen = set()
        for uri in self.host.text_document_uris():
            key = self.target_of(uri)
            if key not in seen:
                seen.add(key)
                yield key

    def target_of(self, uri: str) -> str:
        notebook = self.host.notebook_of_cell(uri)
        return notebook.uri if notebook is not None else uri

    def _code_cells(self, notebook: types.NotebookDocument) -> list[tuple[str, Any]]:
        """(uri, text document) of the notebook's Python code cells, in order."""
        cells = []
        for cell in notebook.cells:
            if cell.kind != types.NotebookCellKind.Code:
                continue
            document = self.host.text_document(cell.document)
            if document is None or (document.language_id or "python") != "python":
                continue
            cells.append((cell.document, document))
        return cells

    def make_request(self, key: str, *, full: bool = False) -> AnalysisRequest | None:
        encoding = self.host.position_encoding()
        notebook = self.host.notebook(key)
        views: dict[str, View]
        if notebook is not None:
            code_cells = self._code_cells(notebook)
            cells = [(uri, doc.version or 0, doc.source) for uri, doc in code_cells]
            views = {
                uri: View(uri, doc.version, SourceFile(doc.source).lines) for uri, doc in code_cells
            }
            joined = build_program(cells)
            program: NotebookProgram | None = joined
            text = joined.text
            text, notice = readable_text(text, uri_to_path(key))
            version: VersionKey = (notebook.version, *(c[1] for c in cells), len(cells))
        else:
            document = self.host.text_document(key)
            if document is None:
                return None
            program = None
            text, notice = readable_text(document.source, uri_to_path(key))
            version = (document.version,)
            views = {key: View(key, document.version, SourceFile(text).lines)}
        path = uri_to_path(key)
        settings = self.settings_for(key)
        project = self.project_config(path, key)
        config = settings.apply_to(project)
        problems = [str(e) for e in config.errors] + list(settings.errors)
        if problems:
            self.report_problems(problems)
        resolver = self.resolver_for(key, settings)
        epoch = self._epochs.get(key, 0)
        previous = self.snapshots.get(key)
        answered = self._answered_since(key, previous.epoch) if previous else None
        if (
            full
            or not settings.incremental
            or previous is None
            or previous.generation != self.generation
            or answered is None  # an answer about any name: everything may change
        ):
            previous = None
        return AnalysisRequest(
            key=key,
            version=version,
            generation=self.generation,
            text=text,
            path=path,
            config=config,
            settings=settings,
            encoding=encoding,
            views=views,
            notebook=program,
            resolver=resolver,
            epoch=epoch,
            recorder=RecordingResolver(resolver) if resolver is not None else None,
            baseline=previous.baseline if previous else None,
            baseline_queried=previous.queried if previous else frozenset(),
            answered=answered or frozenset(),
            notice=notice,
        )

    def _forget_answers_up_to(self, key: str, epoch: int) -> None:
        answers = self._answers_at.get(key, {})
        for old in [e for e in answers if e <= epoch]:
            del answers[old]

    def _answered_since(self, key: str, epoch: int) -> frozenset[str] | None:
        """The names jedi answered for this target after ``epoch``: what the incremental
        analysis must look at again besides the edit. None when an answer named no
        particular name."""
        names = {n for e, ns in self._answers_at.get(key, {}).items() if e > epoch for n in ns}
        return None if "*" in names else frozenset(names)

    def current_version(self, key: str) -> VersionKey | None:
        notebook = self.host.notebook(key)
        if notebook is not None:
            versions = [doc.version or 0 for _, doc in self._code_cells(notebook)]
            return (notebook.version, *versions, len(versions))
        document = self.host.text_document(key)
        return (document.version,) if document is not None else None

    def is_current(self, snapshot: Snapshot) -> bool:
        return snapshot.generation == self.generation and snapshot.version == self.current_version(
            snapshot.key
        )

    def cached(self, uri: str) -> Snapshot | None:
        """The cached analysis of the document's current version, if any."""
        snapshot = self.snapshots.get(self.target_of(uri))
        if snapshot is None or snapshot.version != self.current_version(snapshot.key):
            return None
        return snapshot

    # -- scheduling -----------------------------------------------------------------

    def changed(self, key: str) -> None:
        """The target's text changed, or it closed: a full check pending or running is
        for an older version (a running one stops at its next rule)."""
        _cancel(self._full_checks, key)
        running = self._checks_running.get(key)
        if running is not None:
            running.set()

    def schedule(self, key: str, delay_ms: int) -> None:
        assert self.loop is not None
        _cancel(self._timers, key)
        self.changed(key)
        if delay_ms <= 0:
            self._start(key)
        else:
            self._timers[key] = self.loop.call_later(delay_ms / 1000, lambda: self._fire(key))

    def _fire(self, key: str) -> None:
        self._timers.pop(key, None)
        self._start(key)

    def _start(self, key: str, *, full: bool = False) -> None:
        assert self.loop is not None
        work = self._check_in_full(key) if full else self.refresh(key)
        task = self.loop.create_task(self._logged(key, work))
        self._tasks.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._tasks.discard)

    def _schedule_full_check(self, key: str) -> None:
        """Check a partial result by a full analysis once typing pauses."""
        assert self.loop is not None
        _cancel(self._full_checks, key)
        self._full_checks[key] = self.loop.call_later(
            FULL_CHECK_IDLE_S, self._start_full_check, key
        )

    def _start_full_check(self, key: str) -> None:
        self._full_checks.pop(key, None)
        if key not in self._timers:  # else an edit is pending: its analysis comes first
            self._start(key, full=True)

    async def _logged(self, key: str, work: Awaitable[Any]) -> None:
        """Background work: a failure is logged, never lost in an unawaited task."""
        try:
            await work
        except AnalysisFailed:
            pass  # reported by report_failure
        except Exception as error:
            log.exception("analysing %s failed", key)
            self.host.log_message(
                f"GradGuard: analysing {key} failed: {error}", types.MessageType.Error
            )

    async def refresh(self, key: str, *, publish: bool = True) -> Snapshot | None:
        """Analyse the target's current version unless cached; publish if pushing.
        (A partial result is checked in full by ``_check_in_full``.)"""
        try:
            await asyncio.wait_for(self.settings_ready.wait(), timeout=5)
        except asyncio.TimeoutError:
            self.settings_ready.set()
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            for _attempt in range(5):
                request = self.make_request(key)
                if request is None:
                    return None
                cached = self.snapshots.get(key)
                if (
                    cached is not None
                    and cached.version == request.version
                    and cached.generation == request.generation
                    and cached.encoding == request.encoding
                    and cached.epoch == request.epoch
                ):
                    return cached
                try:
                    snapshot = await self._analyse(key, request)
                except AnalysisFailed:
                    return self.snapshots.get(key)  # the previous diagnostics stay
                if snapshot is None or not self.is_current(snapshot):
                    log.debug("dropped the analysis of %s version %s", key, request.version)
                    if publish:
                        return None  # a newer change has scheduled its own analysis
                    continue  # a pull request wants the current version: try again
                self._accept(snapshot, publish=publish, full=False)
                return snapshot
        return None

    async def _check_in_full(self, key: str) -> None:
        """Analyse the whole file whose current result is partial. This runs outside
        the document's lock, so the next edit never waits for it, and is abandoned at
        the next rule when that edit arrives (``schedule``)."""
        partial = self.snapshots.get(key)
        if partial is None or partial.exact or not self.is_current(partial):
            return
        request = self.make_request(key, full=True)
        if request is None or request.version != partial.version:
            return
        stop = self._checks_running[key] = threading.Event()
        try:
            snapshot = await self._analyse(key, request, stop.is_set)
        finally:
            if self._checks_running.get(key) is stop:
                del self._checks_running[key]
        if (
            snapshot is not None
            and self.snapshots.get(key) is partial
            and self.is_current(snapshot)
        ):
            self._accept(snapshot, publish=True, full=True)

    async def _analyse(
        self, key: str, request: AnalysisRequest, cancelled: Callable[[], bool] | None = None
    ) -> Snapshot | None:
        """``run_analysis`` on a worker thread, with the names it asks jedi about on
        record while it runs (a late answer about one re-analyses this target)."""
        assert self.loop is not None
        recorders = self._in_flight.setdefault(key, [])
        if request.recorder is not None:
            recorders.append(request.recorder)
        try:
            return await self.loop.run_in_executor(self.executor, run_analysis, request, cancelled)
        except Exception as error:
            self.report_failure(key, error)
            raise AnalysisFailed(key) from error
        finally:
            if request.recorder is not None and request.recorder in recorders:
                recorders.remove(request.recorder)
            if not recorders:
                self._in_flight.pop(key, None)

    def _accept(self, snapshot: Snapshot, *, publish: bool, full: bool) -> None:
        """Make ``snapshot`` (of the current version) the target's result, and show it."""
        assert self.loop is not None
        key = snapshot.key
        previous = self.snapshots.get(key)
        self.snapshots[key] = snapshot
        if previous is not None and previous.encoding == snapshot.encoding:
            snapshot.converted_before, previous.converted = previous.converted, {}
        self._forget_answers_up_to(key, snapshot.epoch)
        self._keep_facts(snapshot, previous)
        if previous is not None and previous._symbols is not None:
            # A document people hover: build the new version's hover index
            # off the hot path once typing pauses, before a hover asks for it
            # (not at once: the code action that follows a publish is hotter).
            self.loop.call_later(SYMBOLS_IDLE_S, self._prebuild_symbols, snapshot)
        self.report_notices(key, snapshot.result.notices)
        log.debug(
            "analysed %s version %s in %.1f ms (%s): %d findings",
            key,
            snapshot.version,
            snapshot.elapsed_ms,
            "whole file" if snapshot.exact else "incremental",
            len(snapshot.result.findings),
        )
        if not snapshot.exact:
            self._schedule_full_check(key)
        if _confirms(snapshot, previous):
            # The partial result was right: nothing new to show. Its published
            # diagnostics stand for this snapshot's equal findings (for the next edit).
            shown = {
                finding: diagnostic for finding, diagnostic in snapshot.converted_before.values()
            }
            snapshot.converted = {
                id(f): (f, shown[f]) for f in snapshot.result.findings if f in shown
            }
            return
        if publish and not self.host.pull_mode:
            self.publish(snapshot)
        elif full and self.host.pull_mode:
            self.host.request_diagnostic_refresh()

    def _keep_facts(self, snapshot: Snapshot, previous: Snapshot | None) -> None:
        """Trees and baselines stay alive for the latest versions of the last few
        analysed documents only: RSS must not grow with the number of open files."""
        for attribute, recent, limit in (
            ("facts", self._recent_facts, KEPT_FACTS),
            ("baseline", self._recent_baselines, KEPT_BASELINES),
        ):
            if previous is not None and attribute == "facts":  # a hover may hold it
                previous.facts = None
            recent.pop(snapshot.key, None)
            if getattr(snapshot, attribute) is None:
                continue
            recent[snapshot.key] = snapshot
            while len(recent) > limit:
                _drop(recent.popitem(last=False)[1], attribute)

    def _prebuild_symbols(self, snapshot: Snapshot) -> None:
        key = snapshot.key
        if self.snapshots.get(key) is not snapshot or key in self._timers or key in self._in_flight:
            return  # superseded, or typing goes on: the next version will do
        with contextlib.suppress(RuntimeError):  # shutting down
            self.executor.submit(_build_symbols, snapshot)

    def publish(self, snapshot: Snapshot) -> None:
        per_uri = snapshot.diagnostics()
        before = self._published.get(snapshot.key, set())
        for uri in before - set(per_uri):  # cells deleted since the last publish
            self.host.publish(uri, None, [])
        for uri, diagnostics in per_uri.items():
            version = snapshot.views[uri].version
            shown = self._published_versions.get(uri)
            if version is not None and shown is not None and version < shown:
                log.warning("not publishing %s version %s after version %s", uri, version, shown)
                continue
            if version is not None:
                self._published_versions[uri] = version
            # Also an empty list: the client learns this version was analysed and is clean.
            self.host.publish(uri, version, diagnostics)
        self._published[snapshot.key] = {u for u, d in per_uri.items() if d}

    def report_notices(self, key: str, notices: list[str]) -> None:
        """Engine notices (file skipped for its size, time limit, a failing rule) are
        shown once per open document, not on every keystroke."""
        shown = self._noticed.setdefault(key, set())
        # "skipped, 2560013 bytes ..." after each keystroke is the same notice.
        keyed = {re.sub(r"\d+", "#", n): n for n in notices}
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
        shown, kind = self._noticed.setdefault(key, set()), re.sub(r"\d+", "#", notice)
        if kind in shown:
            log.debug("%s", notice)
            return
        shown.add(kind)
        log.error("%s", notice, exc_info=error)
        self.host.log_message(notice, types.MessageType.Error)
        self.host.show_message(f"GradGuard: {notice}", types.MessageType.Error)

    def closed(self, key: str) -> None:
        self._noticed.pop(key, None)
        _cancel(self._timers, key)
        self.changed(key)
        self.snapshots.pop(key, None)
        self._recent_facts.pop(key, None)
        self._recent_baselines.pop(key, None)
        self._locks.pop(key, None)
        self._epochs.pop(key, None)
        self._answers_at.pop(key, None)
        uris = self._published.pop(key, set())
        for uri in uris | {key}:
            self._published_versions.pop(uri, None)
        if not self.host.pull_mode:
            for uri in uris | {key}:
                self.host.publish(uri, None, [])

    def cells_removed(self, key: str, uris: list[str]) -> None:
        """Cells deleted from an open notebook: clear what they showed."""
        published = self._published.get(key, set())
        for uri in uris:
            published.discard(uri)
            self._published_versions.pop(uri, None)
            if not self.host.pull_mode:
                self.host.publish(uri, None, [])

    async def run_in_worker(self, function: Callable[..., Any], *args: Any) -> Any:
        assert self.loop is not None
        return await self.loop.run_in_executor(self.executor, function, *args)

    def shutdown(self) -> None:
        for timers in (self._timers, self._full_checks):
            for timer in timers.values():
                timer.cancel()
            timers.clear()
        self.executor.shutdown(wait=False, cancel_futures=True)
        for resolver in self._resolvers.values():
            close = getattr(resolver, "close", None) or getattr(resolver, "shutdown", None)
            if callable(close):
                try:
                    close()
                except Exception:  # closing is best effort
                    log.debug("resolver close failed", exc_info=True)


def _drop(snapshot: Snapshot, attribute: str) -> None:
    setattr(snapshot, attribute, None)
    if attribute == "baseline":
        # Its published diagnostics serve only findings an incremental analysis carries
        # over, which a full one (no baseline) never does: 13 MB for 100 files of torch.
        snapshot.converted = snapshot.converted_before = {}


def _cancel(timers: dict[str, asyncio.TimerHandle], key: str) -> None:
    timer = timers.pop(key, None)
    if timer is not None:
        timer.cancel()


def _confirms(snapshot: Snapshot, previous: Snapshot | None) -> bool:
    """``snapshot`` is the full analysis of the version ``previous`` analysed partially,
    and finds the same. Otherwise the difference is logged: it is what the incremental
    analysis missed (a bug report's material)."""
    if (
        previous is None
        or previous.exact
        or not snapshot.exact
        or (previous.version, previous.generation) != (snapshot.version, snapshot.generation)
    ):
        return False
    if set(previous.result.findings) == set(snapshot.result.findings):
        return True
    log.info(
        "%s version %s: the whole-file analysis differs from the incremental one "
        "(%d findings instead of %d); publishing it",
        snapshot.key,
        snapshot.version,
        len(snapshot.result.findings),
        len(previous.result.findings),
    )
    return False


def _build_symbols(snapshot: Snapshot) -> None:
    try:
        snapshot.symbols()
    except Exception:  # the hover builds it again and reports the failure
        log.debug("building the hover index of %s failed", snapshot.key, exc_info=True)


def _warm_up(resolver: Any) -> None:
    warm_up = getattr(resolver, "warm_up", None)
    if callable(warm_up):
        try:
            if warm_up():
                # Parse trees kept alive from now on are not worth scanning on every
                # collection (jedi-performance-facts.md, hazard 3).
                gc.freeze()
        except Exception:
            log.warning("jedi warm-up failed", exc_info=True)
