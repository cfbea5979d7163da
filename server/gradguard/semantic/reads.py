"""What the analysis of each top-level statement read: the editor's dependencies.

While :func:`recording` is active (the editor's incremental analysis), every file's
analysis keeps a :class:`ReadLog`: for each top-level statement (a *reader*), the
top-level statements whose code answered its questions, and the patterns of the
whole-file scans made for it. The evaluator records its reads per memoised expression,
so a reused answer brings the reads it was computed from (what ``main()`` passes to
``train(model)`` comes with ``build_model``'s body). Whole-file scans (every assignment
of ``D``, every ``scaler.update``, every layer built with ``bias=False``) record a
regular expression: an edit whose text matches it may change the reader's findings.

The reader of an evaluation is the top-level statement holding the expression asked
about, and the one a rule names with :meth:`ReadLog.reading` around its check of one
candidate. Outside :func:`recording` nothing is kept (``ReadLog.of`` returns None).
"""

from __future__ import annotations

import ast
import bisect
import contextlib
import re
from collections.abc import Hashable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from gradguard.analysis.facts import ModuleFacts, line_range


@dataclass(frozen=True)
class Scan:
    """A read of every place in the file matching ``pattern`` (a regular expression)."""

    pattern: str
    #: The name whose assignments were read: only code spelling it can be about them.
    word: str = ""


@dataclass(frozen=True)
class Calls:
    """A read of the top-level statement at ``line`` and of every same-file function it
    calls, transitively (what a helper expansion may reach)."""

    line: int


@dataclass(frozen=True)
class RuleScan:
    """A scan made for no reader in particular: every place rule ``code`` may report on
    read every place matching ``pattern``."""

    code: str
    pattern: str
    word: str = ""


@dataclass(frozen=True)
class Lookup:
    """A same-file definition found by its name (``facts.functions``, ``facts.classes``):
    the top-level statement at ``line`` holding it, looked up as ``word``."""

    line: int
    word: str


@dataclass(frozen=True)
class Header:
    """The header (decorators, ``class X(bases):``) of the class statement at ``line``,
    found by its name ``word``: whether a class is a module or an optimizer reads only
    the headers along its same-file bases."""

    line: int
    word: str


@dataclass(frozen=True)
class RuleLookup:
    """A definition rule ``code`` looked up by the name ``word`` for no reader in
    particular: every place the rule may report on that spells ``word`` read it."""

    code: str
    word: str


@dataclass
class Recorder:
    logs: list[ReadLog] = field(default_factory=list)


_RECORDER: ContextVar[Recorder | None] = ContextVar("gradguard_reads", default=None)


@contextlib.contextmanager
def recording() -> Iterator[Recorder]:
    """Keep a read log for each file analysed in this context (this thread)."""
    recorder = Recorder()
    token = _RECORDER.set(recorder)
    try:
        yield recorder
    finally:
        _RECORDER.reset(token)


Read = int | Scan | Calls | Lookup | Header
ReadSet = set[Read]
_NOWHERE = ast.Pass()  # no position: only the current reader reads


class ReadLog:
    def __init__(self, tree: ast.Module) -> None:
        self._starts = [line_range(stmt)[0] for stmt in tree.body]
        #: reader (0-based first line of a top-level statement) -> what it read.
        self.by_reader: dict[int, ReadSet] = {}
        self._open: list[ReadSet] = []  # evaluations under way, innermost last
        self._memo: dict[Hashable, frozenset[Read]] = {}
        self._readers: list[int] = []
        #: The rule running (set by the engine): the owner of reader-less scans.
        self.rule = ""
        self.rule_scans: set[RuleScan] = set()
        self.rule_lookups: set[RuleLookup] = set()

    @classmethod
    def of(cls, facts: ModuleFacts) -> ReadLog | None:
        recorder = _RECORDER.get()
        if recorder is None:
            return None

        def build() -> ReadLog:
            log = cls(facts.tree)
            recorder.logs.append(log)
            return log

        return facts.shared("read log", build)

    def top(self, node: ast.AST) -> int | None:
        """The first line of the top-level statement holding ``node``."""
        line = getattr(node, "lineno", None)
        if line is None:
            return None
        index = bisect.bisect_right(self._starts, line - 1) - 1
        return self._starts[index] if index >= 0 else None

    # -- readers ------------------------------------------------------------------

    @contextlib.contextmanager
    def reading(self, node: ast.AST) -> Iterator[None]:
        """Attribute what is read inside to ``node``'s top-level statement too (a rule's
        check of one candidate: a step, a region, an initialiser call)."""
        reader = self.top(node)
        if reader is None:
            yield
            return
        self._readers.append(reader)
        try:
            yield
        finally:
            self._readers.pop()

    def _merge(self, node: ast.AST | None, reads: Iterable[Read]) -> None:
        if self._open:
            self._open[-1].update(reads)
            return
        own = None if node is None else self.top(node)
        # Every reader under way depends on what is read (a rule's check of a candidate
        # around an entry point that names its own node).
        readers = {*self._readers, *([] if own is None else [own])}
        if not readers:
            for read in reads:
                if isinstance(read, Scan):
                    self.rule_scans.add(RuleScan(self.rule, read.pattern, read.word))
                elif isinstance(read, (Lookup, Header)):
                    self.rule_lookups.add(RuleLookup(self.rule, read.word))
        for reader in readers:
            self.by_reader.setdefault(reader, set()).update(reads)

    # -- the evaluator's reads (memoised with its answers) ---------------------------

    def enter(self, node: ast.AST) -> None:
        own = self.top(node)
        self._open.append(set() if own is None else {own})

    def leave(self, node: ast.AST, key: Hashable) -> None:
        reads = self._open.pop()
        self._memo[key] = frozenset(reads)
        self._merge(node, reads)

    def reuse(self, node: ast.AST, key: Hashable) -> None:
        """A memoised answer: it brings what it was computed from."""
        own = self.top(node)
        self._merge(node, self._memo.get(key, frozenset() if own is None else {own}))

    # -- answers memoised outside the evaluator (``facts.returns_module``, a class's kind)

    def begin(self) -> None:
        """An answer is computed: what it reads is kept with it (``end``)."""
        self._open.append(set())

    def end(self, key: Hashable) -> None:
        reads = self._open.pop()
        self._memo[key] = frozenset(reads)
        self._merge(None, reads)

    def replay(self, key: Hashable) -> None:
        """A memoised answer is used again: it brings what it was computed from."""
        self._merge(None, self._memo.get(key, frozenset()))

    # -- other reads ----------------------------------------------------------------

    def header(self, node: ast.ClassDef) -> None:
        """The header of class ``node`` was read (its kind judged)."""
        own = self.top(node)
        if own is not None:
            self._merge(None, {Header(own, node.name)})

    def lookup(self, node: ast.AST, word: str) -> None:
        """The definition ``node`` was found by its name ``word``."""
        own = self.top(node)
        if own is not None:
            self.add(Lookup(own, word))

    def add(self, read: Read) -> None:
        """One read (the hot path of lookups: inside an evaluation, one set insertion)."""
        if self._open:
            self._open[-1].add(read)
        else:
            self._merge(None, (read,))

    def read(self, node: ast.AST, by: ast.AST | None = None) -> None:
        """The code of ``node``'s top-level statement was read (a class's bases and
        methods, a function without a return), for ``by`` when given."""
        own = self.top(node)
        if own is not None:
            self._merge(by or node, {own})

    def read_calls(self, node: ast.AST, by: ast.AST) -> None:
        """``node``'s top-level statement was read for ``by`` with the helpers it calls
        (a step expansion, the loop around a helper's call)."""
        own = self.top(node)
        if own is not None:
            self._merge(by, {Calls(own)})

    def scan(self, pattern: str, by: ast.AST | None = None, word: str = "") -> None:
        """Every place of the file matching ``pattern`` was read (absence included);
        ``word``: the name read, when only code spelling it can depend on the scan."""
        self._merge(by or _NOWHERE, {Scan(pattern, word)})


def name_pattern(dotted: str) -> str:
    """A pattern every assignment of ``dotted`` (``self.opt``) matches, read in the text of
    whole statements: its last part followed by ``=`` (``opt = ...``, ``opt, s = ...``,
    ``self.opt: Optimizer = ...``; not ``==``, ``<=``...)."""
    return rf"\b{re.escape(_last(dotted))}\b{_ASSIGNED}"


_ASSIGNED = r"[^\n=]*(?<![=<>!])=(?!=)"


def is_name_scan(pattern: str) -> bool:
    """``pattern`` is a :func:`name_pattern` (every assignment of one name)."""
    return pattern.endswith(_ASSIGNED)


def _last(dotted: str) -> str:
    return dotted.rsplit(".", 1)[-1]


class LookedUp(dict[str, Any]):
    """``ModuleFacts.functions`` / ``classes`` while reads are recorded: finding a
    definition by its name reads it (``node_of`` gives its node). Asking only whether
    the name is defined (``in``) reads the binding, not the code: an edit that adds,
    removes or renames a definition reaches the units spelling the name anyway."""

    def __init__(self, index: dict[str, Any], log: ReadLog, node_of: Any = None) -> None:
        super().__init__(index)
        self.log = log
        self.node_of = node_of
        self._reads: dict[str, Lookup | None] = {}  # made once per name: lookups are hot

    def _found(self, name: object) -> None:
        if not isinstance(name, str):
            return
        read = self._reads.get(name, False)
        if read is False:
            found = dict.get(self, name)
            line = None
            if found is not None:
                line = self.log.top(self.node_of(found) if self.node_of else found)
            read = self._reads[name] = None if line is None else Lookup(line, name)
        if read is not None:
            self.log.add(read)  # type: ignore[arg-type]

    def get(self, name: str, default: Any = None) -> Any:
        self._found(name)
        return super().get(name, default)

    def __getitem__(self, name: str) -> Any:
        self._found(name)
        return super().__getitem__(name)


class Headers(dict[str, Any]):
    """``ModuleFacts.classes`` for judging kinds while reads are recorded: finding a
    class reads its header only (its bases)."""

    def __init__(self, classes: dict[str, Any], log: ReadLog) -> None:
        super().__init__(dict.items(classes))
        self.log = log
        self._reads: dict[str, Header | None] = {}

    def __getitem__(self, name: str) -> Any:
        found = super().__getitem__(name)
        if name not in self._reads:
            line = self.log.top(found.node)
            self._reads[name] = None if line is None else Header(line, name)
        read = self._reads[name]
        if read is not None:
            self.log.add(read)
        return found


def recording_lookups(facts: ModuleFacts) -> tuple[LookedUp, LookedUp]:
    """``facts.functions`` and ``facts.classes`` recording what is found in them."""
    log = ReadLog.of(facts)
    assert log is not None
    return LookedUp(facts.functions, log), LookedUp(facts.classes, log, lambda i: i.node)
