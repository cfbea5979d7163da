"""One analysis of one target version, as an immutable value.

An :class:`AnalysisRequest` and the :class:`Snapshot` it becomes share what was
analysed (:class:`~gradguard.lsp.targets.TargetText`) and how
(:class:`Context`) by composition. A snapshot never changes after the worker
built it; two small holders next to it say so explicitly:

* :class:`Kept`: what the analysis left that is worth keeping alive (its tree and
  indexes for hovers, the incremental baseline for the next edit); the workspace
  drops them for all but the latest few documents, so memory stays bounded;
* :class:`Derived`: values computed from the snapshot at most once, on first use
  (the noqa-comment map, the hover index, fix-all), under a lock.

Converted diagnostics live in :mod:`gradguard.lsp.converted`, not here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from gradguard.analysis.resolution import SymbolResolver
from gradguard.config import Config
from gradguard.findings import AnalysisResult, Position, Span
from gradguard.lsp import convert
from gradguard.lsp.settings import Settings
from gradguard.lsp.targets import TargetText, View
from gradguard.noqa import NoqaComment, comments
from gradguard.source import SourceFile

if TYPE_CHECKING:  # the engine loads with the first document, not before initialize
    from gradguard.analysis.facts import ModuleFacts
    from gradguard.incremental import Baseline

log = logging.getLogger(__name__)

_Value = TypeVar("_Value")


@dataclass(frozen=True)
class Context:
    """How a target was analysed: settings, configuration and jedi's state."""

    generation: int  # of the settings (bumped by any settings or pyproject change)
    config: Config
    settings: Settings
    encoding: str  # the client's position encoding
    resolver: SymbolResolver | None
    #: The target's resolver epoch when the analysis started (bumped by jedi answers).
    epoch: int = 0


@dataclass(frozen=True)
class AnalysisRequest:
    target: TargetText
    context: Context
    #: Records the names the analysis asks the resolver (see ``worker``).
    recorder: Any = None
    #: The previous version's analysis, for an incremental one (None: in full).
    baseline: Baseline | None = None
    #: Names the baseline's analyses asked the resolver about.
    baseline_queried: frozenset[str] = frozenset()
    #: Names jedi has answered since the baseline (their answers may differ).
    answered: frozenset[str] = frozenset()


@dataclass
class Kept:
    """Parts of an analysis kept alive for the most recent snapshots only."""

    facts: ModuleFacts | None = None
    baseline: Baseline | None = None


class Derived:
    """Values computed from one snapshot at most once (on a worker thread or the loop).
    One lock per value: a code action on the loop never waits for a hover index
    being built on a worker thread."""

    def __init__(self) -> None:
        self._values: dict[Any, Any] = {}
        self._locks: dict[Any, threading.Lock] = {}
        self._lock = threading.Lock()  # guards ``_locks``, held only to pick one

    def get(self, key: Any, build: Callable[[], _Value]) -> _Value:
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._values:
                self._values[key] = build()
            value: _Value = self._values[key]
            return value

    def has(self, key: Any) -> bool:
        return key in self._values


@dataclass(frozen=True, eq=False)
class Snapshot:
    """An analysis result and everything needed to translate it."""

    target: TargetText
    context: Context
    result: AnalysisResult
    elapsed_ms: float = 0.0
    #: Qualified names the analysis asked the resolver about: a jedi answer for
    #: one of them re-analyses this target, and only this target.
    queried: frozenset[str] = frozenset()
    #: False for an incremental result not yet confirmed by a full analysis.
    exact: bool = True
    kept: Kept = field(default_factory=Kept, repr=False)
    derived: Derived = field(default_factory=Derived, repr=False)

    @property
    def key(self) -> str:
        return self.target.key

    @property
    def version(self) -> tuple[Any, ...]:
        return self.target.version

    @property
    def views(self) -> dict[str, View]:
        return self.target.views

    @property
    def result_id(self) -> str:
        partial = "" if self.exact else ":partial"
        version = ":".join(str(v) for v in self.version)
        return f"{self.context.generation}:{version}{partial}"

    @property
    def source(self) -> SourceFile:
        return SourceFile(self.target.text, self.target.path)

    def same_input(self, request: AnalysisRequest) -> bool:
        """This analysed exactly what ``request`` asks for (no need to analyse again)."""
        mine, theirs = self.context, request.context
        return self.version == request.target.version and (
            mine.generation,
            mine.encoding,
            mine.epoch,
        ) == (theirs.generation, theirs.encoding, theirs.epoch)

    def confirms(self, previous: Snapshot | None) -> bool:
        """This is the full analysis of the version ``previous`` analysed partially,
        and finds the same. Otherwise the difference is logged: it is what the
        incremental analysis missed (a bug report's material)."""
        if (
            previous is None
            or previous.exact
            or not self.exact
            or previous.version != self.version
            or previous.context.generation != self.context.generation
        ):
            return False
        if set(previous.result.findings) == set(self.result.findings):
            return True
        log.info(
            "%s version %s: the whole-file analysis differs from the incremental one "
            "(%d findings instead of %d); publishing it",
            *(self.key, self.version, len(self.result.findings), len(previous.result.findings)),
        )
        return False

    # -- coordinates ------------------------------------------------------------

    def locate(self, span: Span, *, editable: bool = False) -> tuple[View, Span] | None:
        """The client document holding ``span`` and the span in its coordinates
        (``editable``: None on a masked IPython line of a notebook, see to_cell)."""
        notebook = self.target.notebook
        if notebook is None:
            return next(iter(self.views.values())), span
        mapped = notebook.to_cell(span, editable=editable)
        if mapped is None:
            return None
        cell, local = mapped
        cell_view = self.views.get(cell.key)
        return (cell_view, local) if cell_view else None

    def line_map(self, view: View) -> convert.LineMap:
        return convert.LineMap(view.lines, self.context.encoding)

    def program_position(self, uri: str, position: Any) -> Position | None:
        view = self.views.get(uri)
        if view is None:
            return None
        local = self.line_map(view).from_lsp(position)
        notebook = self.target.notebook
        return local if notebook is None else notebook.from_cell(uri, local)

    def describe_line(self, line: int) -> str:
        """``line 12``, or ``cell 2, line 1`` in a notebook (1-based, as people count)."""
        notebook = self.target.notebook
        if notebook is not None:
            for index, cell in enumerate(notebook.cells, 1):
                if cell.first_line <= line < cell.first_line + cell.line_count:
                    return f"cell {index}, line {line - cell.first_line + 1}"
        return f"line {line + 1}"

    # -- comments ---------------------------------------------------------------

    def noqa_comments_on(self, line: int) -> list[NoqaComment]:
        """The comments of a program line that mention ``noqa``.

        A comment lies on one physical line, so a line whose text does not contain
        ``noqa`` has none and nothing is tokenized (the common case of a code
        action). Otherwise the file is tokenized once per snapshot (a line inside a
        multi-line string is only known to hold no comment from the whole file).
        """
        if "noqa" not in self.source_line(line).lower():
            return []
        return self.derived.get("noqa", self._noqa_comments).get(line, [])

    def _noqa_comments(self) -> dict[int, list[NoqaComment]]:
        by_line: dict[int, list[NoqaComment]] = {}
        for comment in comments(self.target.text):
            if "noqa" in comment.text.lower():
                by_line.setdefault(comment.line, []).append(comment)
        return by_line

    def source_line(self, line: int) -> str:
        """One program line, without splitting the whole text."""
        if self.target.notebook is None and len(self.views) == 1:
            lines = next(iter(self.views.values())).lines
            return lines[line] if 0 <= line < len(lines) else ""
        return self.source.line_text(line)
