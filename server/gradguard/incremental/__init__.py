"""Analysing a file again after an edit, for the editor (no LSP here).

A file is a sequence of *units*: each top-level ``def`` or ``class`` (decorators
included) and each other top-level statement (imports, assignments, the
``if __name__ == "__main__":`` block: the module's own code). After an edit, the
units it touches are parsed again on their own, and only the units whose
findings the edit can change are analysed again; the other units keep their
findings, moved by the lines the edit added or removed.

What a unit's findings depend on is what its analysis read, recorded
(:mod:`gradguard.semantic.reads`, kept per unit in the baseline): the semantic model's
answers with the units they were computed from, the definitions ``analysis/`` found by
name (``facts.functions``, ``facts.classes``; a memoised answer brings its reads again),
only the header of a class whose kind was judged (``class X(nn.Module):``), the
same-file helpers a step expansion or a parameter's callers reached, and the patterns of
whole-file scans such as "every assignment of ``D``" or "every layer built with
``bias=False``". A unit *exports* the names it binds in the module (a ``def`` or
``class`` its own name, the classes it defines, the globals it declares and the names it
imports; module code what it assigns or imports), and its *words* are the names it may
use (read from its text, see :mod:`gradguard.incremental.units`). A unit is analysed
again when

* the edit touched it, or one of its findings points into or next to the edited
  lines (or quotes a line number the edit moved);
* its recorded reads include an edited unit (for a class read by its header only, when
  the edit reaches that header), or a scan whose pattern the edited statements (before
  or after the edit) match;
* a rule scanned the file or looked a definition up for no unit in particular, with a
  pattern the edit matches or for an edited definition, and the rule may report on the
  unit and the unit spells the name read;
* it spells a name the edit binds anew (a definition added, removed or renamed, what
  edited module code binds, a ``global`` or nested class of an edited definition): the
  body of ``def f`` edited leaves ``f`` bound to it, and who read that body is recorded;
* it is a function the edited code calls or called (the values passed in, the loop
  around the call);
* it is module code and other module code is analysed again or was removed
  (module-level flow).

Those units are analysed with the whole file's text and a tree of what they read:
the units their records name, those matching their scans, what the edited code may
read anew (the definitions of the names it spells, transitively: a reader's new reads go
through it), the units spelling an edited definition's name (its callers), the module
code binding a variable any of them spells and every import. An edit that does not
parse on its own or changes an import, a file with a ``from __future__`` import, an
edit of a ``noqa`` comment, of the file's first line break or of its indentation
step, or a shortcut that would need more than ``WHOLE_FILE_SHARE`` of the file is
analysed in full; a text that does not parse at all keeps the last baseline (typing
passes through one at every other keystroke).

The language server publishes the result at once and runs the full analysis once
typing pauses (docs/server.md). ``tests/test_incremental.py`` checks, edit after
edit, that both find the same on the examples, the benchmark's generated and
realistic scripts, and edits found in review (GG402's ``D = ...`` in an unrelated
function among them).
"""

from __future__ import annotations

import ast
import bisect
import dataclasses
import logging
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from gradguard.analysis.edits import file_indent_step
from gradguard.analysis.facts import ModuleFacts, line_range
from gradguard.analysis.resolution import SymbolResolver
from gradguard.config import Config
from gradguard.engine import (
    AnalysisCancelled,
    analyze_tree,
    analyze_with_facts,
    applicable_rules,
)
from gradguard.findings import AnalysisResult, Finding, Position, Span
from gradguard.incremental.dependencies import (
    affected_units,
    needed_units,
    rule_lookup_readers,
    rule_lookup_units,
    scanned_units,
)
from gradguard.incremental.reads import (
    NO_READS,
    FileReads,
    UnitReads,
    from_log,
    read_units,
    readers_of,
)
from gradguard.incremental.units import Unit, mentioning, unit_at, unit_text, units_of
from gradguard.rules import all_rules
from gradguard.semantic.reads import is_name_scan, recording
from gradguard.source import SourceFile, searchable_text

__all__ = ["Baseline", "Reanalysis", "Unit", "analyze_edit", "units_of"]

log = logging.getLogger(__name__)

#: When the shortcut would analyse more than this share of the file's lines, a whole
#: analysis is cheaper (one parse instead of two) and exact.
WHOLE_FILE_SHARE = 0.5
# A message or fix title that quotes a line number ("created on line 12").
_QUOTES_A_LINE = re.compile(r"\bline \d")


@dataclass(frozen=True)
class Baseline:
    """An analysed version of a file: what the next edit is compared with."""

    path: str
    config: Config
    rule_codes: tuple[str, ...]
    lines: list[str]
    units: list[Unit]
    findings: list[Finding]
    #: A full analysis (True), or derived from one by the shortcut (False).
    exact: bool
    #: The file's first line break: fixes write new lines with it.
    newline: str = "\n"
    #: What each unit's analysis read (None: unknown, the next edit is analysed in full).
    reads: FileReads | None = None


@dataclass(frozen=True)
class Reanalysis:
    result: AnalysisResult
    #: The facts of a full analysis (None after the shortcut: its tree is partial).
    facts: ModuleFacts | None
    #: What the next edit can build on (None: it will be analysed in full).
    baseline: Baseline | None
    #: "full", "incremental" or "unchanged".
    mode: str
    units_analysed: int = 0
    units: int = 0
    #: The lines of the partial tree the shortcut analysed (the edited units and what
    #: they read).
    lines_analysed: int = 0

    @property
    def exact(self) -> bool:
        return self.baseline.exact if self.baseline is not None else self.mode == "full"


def analyze_edit(
    text: str,
    path: str,
    *,
    baseline: Baseline | None,
    config: Config,
    resolver: SymbolResolver | None = None,
    time_limit: float | None = None,
    answered: frozenset[str] = frozenset(),
    cancelled: Callable[[], bool] | None = None,
) -> Reanalysis:
    """Analyse ``text``, reusing ``baseline`` (an earlier version's analysis) where the
    edit between them allows, else in full. ``answered``: imported names (``pkg.Net``)
    the resolver may classify differently than for the baseline; the units using them
    are analysed again too. Raises nothing but :class:`~gradguard.engine.AnalysisCancelled`
    (when ``cancelled()`` turns True between two rules)."""
    started = time.monotonic()
    source = SourceFile(text, path)
    plan = None
    if baseline is not None and (baseline.path != path or baseline.config != config):
        baseline = None
    if baseline is not None:
        plan = _plan(baseline, source, answered)
    if plan is None:
        # Names answered since the baseline: it may not be kept as it is.
        kept = None if answered else baseline
        return _full(text, path, config, resolver, time_limit, cancelled, kept)
    if plan.unchanged:
        findings = list(plan.baseline.findings)
        return Reanalysis(AnalysisResult(findings=findings), None, plan.baseline, "unchanged")
    deadline = None if time_limit is None else started + time_limit
    try:
        shortcut = _reanalyse(plan, source, resolver, deadline, cancelled)
    except AnalysisCancelled:
        raise
    except Exception:  # a bug in the shortcut must not cost the findings
        log.exception("incremental analysis of %s failed; analysing the whole file", path)
        shortcut = None
    kept = None if answered else plan.baseline
    return shortcut or _full(text, path, config, resolver, time_limit, cancelled, kept)


# -- what changed ---------------------------------------------------------------------


@dataclass
class _Plan:
    baseline: Baseline
    unchanged: bool = False
    answered: frozenset[str] = frozenset()
    lo: int = 0  # the edited region: old lines lo..hi, new lines lo..hi + delta
    hi: int = -1
    delta: int = 0
    first_unit: int = 0  # old units first_unit..end_unit - 1 lie in the region
    end_unit: int = 0
    changed_text: str = ""  # the lines the edit removed and those it added
    first_changed: int = 0  # the first line that differs (the lines above are the same)


def _plan(baseline: Baseline, source: SourceFile, answered: frozenset[str]) -> _Plan | None:
    if not baseline.units or baseline.reads is None or "__future__" in source.text:
        return None  # a future import must come first: only a whole parse knows
    if source.newline != baseline.newline:
        return None  # every fix writes the file's line break
    if _rule_codes(source, baseline.config) != baseline.rule_codes:
        return None  # the text gates changed which rules run
    old, lines = baseline.lines, source.lines
    shared = min(len(old), len(lines))
    prefix = 0
    while prefix < shared and old[prefix] == lines[prefix]:
        prefix += 1
    if prefix == len(old) == len(lines):
        # The same text: nothing to do, or only the units using newly answered names.
        return _Plan(baseline, unchanged=not answered, answered=answered)
    suffix = 0
    while suffix < shared - prefix and old[-1 - suffix] == lines[-1 - suffix]:
        suffix += 1
    units = baseline.units
    # The unit holding the first edited line, or the one before it (a line typed
    # after a function's last line may continue that function).
    first_unit = max(bisect.bisect_right(units, prefix, key=lambda u: u.first) - 1, 0)
    changed_end = len(old) - suffix  # exclusive
    end_unit = first_unit
    while end_unit < len(units) and units[end_unit].first < max(changed_end, prefix + 1):
        end_unit += 1
    lo = min(prefix, units[first_unit].first)
    hi = max(changed_end - 1, units[end_unit - 1].last if end_unit > first_unit else -1)
    delta = len(lines) - len(old)
    if any("noqa" in line.lower() for line in (*old[lo : hi + 1], *lines[lo : hi + delta + 1])):
        return None  # a file-wide `# gradguard: noqa` silences findings in every unit
    changed = [
        *_statement_lines(old, lo, hi, prefix, changed_end - 1),
        *_statement_lines(lines, lo, hi + delta, prefix, len(lines) - suffix - 1),
    ]
    changed_text = searchable_text("\n".join(changed))
    return _Plan(
        baseline, False, answered, lo, hi, delta, first_unit, end_unit, changed_text, prefix
    )


def _statement_lines(lines: list[str], lo: int, hi: int, first: int, last: int) -> list[str]:
    """Lines ``first``..``last`` widened to the simple statements they touch (a changed
    argument on a continuation line changes the whole assignment), read from the region
    ``lo``..``hi``; just those lines when the region does not parse."""
    tree = _parse("\n" * lo + "\n".join(lines[lo : hi + 1]))
    start, end = first, last
    # Only the statements around the changed lines are visited (a walk of the whole
    # region, a class of 200 lines, cost more than the rest of the plan).
    stack: list[ast.AST] = list(tree.body) if tree is not None else []
    while stack:
        node = stack.pop()
        node_first, node_last = node.lineno - 1, (node.end_lineno or node.lineno) - 1  # type: ignore[attr-defined]
        if node_first > last or node_last < first:
            continue
        if hasattr(node, "body"):
            for name in ("body", "orelse", "finalbody", "handlers", "cases"):
                stack.extend(getattr(node, name, ()))
        else:
            start, end = min(start, node_first), max(end, node_last)
    return lines[start : end + 1]


def _indent_step(lines: list[str], units: list[Unit]) -> str | None:
    source = SourceFile("\n".join(lines))
    source.top_level_lines = [(unit.first, unit.last) for unit in units]
    return file_indent_step(source)


def _first_indented(lines: list[str]) -> int:
    return next((i for i, line in enumerate(lines) if line[:1] in " \t" and line.strip()), -1)


def _rule_codes(source: SourceFile, config: Config) -> tuple[str, ...]:
    return tuple(rule.code for rule in applicable_rules(source, config, all_rules()))


# -- the shortcut ---------------------------------------------------------------------


def _reanalyse(
    plan: _Plan,
    source: SourceFile,
    resolver: SymbolResolver | None,
    deadline: float | None,
    cancelled: Callable[[], bool] | None,
) -> Reanalysis | None:
    baseline, lines = plan.baseline, source.lines
    edited_lines = lines[plan.lo : plan.hi + plan.delta + 1]
    region = _parse("\n" * plan.lo + "\n".join(edited_lines))
    if region is None:
        return None  # the edit does not stand on its own: a whole parse decides
    edited = units_of(region.body, lines)
    removed = baseline.units[plan.first_unit : plan.end_unit]
    units = [
        *baseline.units[: plan.first_unit],
        *edited,
        *(u.moved(plan.delta) for u in baseline.units[plan.end_unit :]),
    ]
    if _needs_whole_file(plan, lines, units, [*removed, *edited]):
        return None
    in_region = set(range(plan.first_unit, plan.first_unit + len(edited)))
    reads = _moved_reads(plan, len(units), len(edited))
    seeds = in_region | _units_of_stale_findings(plan, len(edited))
    seeds |= mentioning(units, {part for name in plan.answered for part in name.split(".") if part})
    file_reads = baseline.reads
    assert file_reads is not None  # _plan checked
    texts = _Texts(lines, units)
    headers = _headers_changed(plan, region, units, in_region)
    readers = readers_of(units, reads, in_region, plan.changed_text, headers)
    readers |= _rule_scan_readers(units, texts, file_reads, plan.changed_text)
    readers |= rule_lookup_readers(
        units, file_reads.rule_lookups, [*removed, *edited], texts.may_apply
    )
    affected = affected_units(units, seeds, removed, edited, readers)
    # What the affected units' analysis reads: what it recorded last time, what the
    # edited code may read anew, the matches of their scans, the rules' lookups.
    needed = needed_units(units, affected, in_region) | read_units(units, reads, affected)
    needed |= scanned_units(units, lines, _scans_of(units, texts, file_reads, reads, affected))
    needed |= rule_lookup_units(units, file_reads.rule_lookups, needed)
    tree_lines = sum(units[i].last - units[i].first + 1 for i in needed)
    if tree_lines > WHOLE_FILE_SHARE * len(lines):
        return None
    tree = _partial_tree(lines, units, needed - in_region, region)
    if tree is None:
        return None
    with recording() as recorder:
        fresh, _ = analyze_tree(source, tree, baseline.config, resolver, None, deadline, cancelled)
    if fresh.notices:
        return None  # a rule failed or ran out of time: the full analysis says which
    new_reads = from_log(recorder.logs[0] if recorder.logs else None, units)
    if new_reads is None:
        return None
    merged = FileReads(
        tuple(new_reads.per_unit[i] if i in affected else reads[i] for i in range(len(units))),
        file_reads.rule_scans | new_reads.rule_scans,
        file_reads.rule_lookups | new_reads.rule_lookups,
    )
    findings = [f for f in fresh.findings if unit_at(units, f.span.start.line) in affected]
    findings += _carried_over(plan, len(edited), affected)
    findings.sort(key=lambda f: f.sort_key)
    rebased = dataclasses.replace(
        baseline, lines=lines, units=units, findings=findings, exact=False, reads=merged
    )
    return Reanalysis(
        AnalysisResult(findings=findings),
        None,
        rebased,
        "incremental",
        len(affected),
        len(units),
        tree_lines,
    )


def _headers_changed(
    plan: _Plan, region: ast.Module, units: list[Unit], in_region: set[int]
) -> set[int]:
    """The edited units but the classes whose header (decorators, ``class X(...):``) lies
    wholly above the first changed line (the lines above it are the same as before)."""
    classes = {line_range(s)[0]: s for s in region.body if isinstance(s, ast.ClassDef) and s.body}
    kept = set()
    for index in in_region:
        statement = classes.get(units[index].first)
        # The first statement's line - 1 is the header's last line, 0-based.
        if statement is not None and statement.body[0].lineno - 2 < plan.first_changed:
            kept.add(index)
    return in_region - kept


def _needs_whole_file(
    plan: _Plan, lines: list[str], units: list[Unit], changed: list[Unit]
) -> bool:
    """Edits whose effect only a whole analysis gets right."""
    if any(unit.is_module_code and not unit.binds_values for unit in changed):
        return True  # imports: any fix may spell a torch name through them (`no_grad()`)
    old = plan.baseline
    # Fixes at module level indent by the file's first indented block.
    return plan.lo <= _first_indented(old.lines) and _indent_step(
        old.lines, old.units
    ) != _indent_step(lines, units)


def _moved_reads(plan: _Plan, count: int, edited: int) -> tuple[UnitReads, ...]:
    """The baseline's reads, indexed by the new units (the edited units' reads are
    those of the units they replace: all of them, until analysed again)."""
    old = plan.baseline.reads
    assert old is not None
    shift = edited - (plan.end_unit - plan.first_unit)
    if shift == 0 and edited <= 1:
        return old.per_unit  # one unit edited in place (a keystroke): nothing moves
    region = list(range(plan.first_unit, plan.first_unit + edited))
    index: dict[int, list[int]] = {}
    for i in range(len(old.per_unit)):
        if i < plan.first_unit:
            index[i] = [i]
        elif i < plan.end_unit:
            index[i] = region
        else:
            index[i] = [i + shift]
    moved = [NO_READS] * count
    for i, read in enumerate(old.per_unit):
        shifted = read.moved(index)  # the same for every unit the old one became
        for new in index[i]:
            moved[new] = _union(moved[new], shifted)
    return tuple(moved)


def _union(a: UnitReads, b: UnitReads) -> UnitReads:
    return UnitReads(a.units | b.units, a.calls | b.calls, a.scans | b.scans)


class _Texts(list[str]):
    """The units' texts (as Python reads identifiers), each made when first needed, and
    which rules' text gates they pass (memoised: a keystroke asks again and again)."""

    def __init__(self, lines: list[str], units: list[Unit]) -> None:
        super().__init__([""] * len(units))
        self._lines, self._units = lines, units
        self._made: set[int] = set()
        self._applies: dict[tuple[str, int], bool] = {}
        self._rules = {rule.code: rule for rule in all_rules()}

    def __getitem__(self, index):  # type: ignore[no-untyped-def,override]
        if index not in self._made:
            unit = self._units[index]
            self[index] = unit_text(self._lines, unit.first, unit.last)
            self._made.add(index)
        return super().__getitem__(index)

    def may_apply(self, code: str, index: int) -> bool:
        """Rule ``code``'s text gate lets unit ``index`` through."""
        key = (code, index)
        if key not in self._applies:
            rule = self._rules.get(code)
            self._applies[key] = rule is not None and rule.may_apply(self[index])
        return self._applies[key]


def _rule_scan_readers(
    units: list[Unit], texts: _Texts, reads: FileReads, changed_text: str
) -> set[int]:
    """The units a rule may report on whose whole-file scan the changed lines match
    (GG304: adding ``bias=False`` anywhere changes its findings elsewhere; GG402: a new
    assignment of ``D`` changes what the units spelling ``D`` hold)."""
    matched = [scan for scan in reads.rule_scans if re.search(scan.pattern, changed_text)]
    found = set()
    for scan in matched:
        spelled = re.compile(rf"\b{re.escape(scan.word)}\b") if scan.word else None
        for i in range(len(units)):
            if texts.may_apply(scan.code, i) and (not spelled or spelled.search(texts[i])):
                found.add(i)
    return found


def _scans_of(
    units: list[Unit],
    texts: _Texts,
    file_reads: FileReads,
    reads: tuple[UnitReads, ...],
    affected: set[int],
) -> set[str]:
    """The patterns scanned for the affected units (theirs, and those of the rules that
    may report on them) whose matches the tree must hold.

    Not the lookups of every assignment of a name (``is_name_scan``): ``model``,
    ``optimizer``, ``loss`` are assigned in nearly every function, and holding them all
    would be the whole file at every keystroke. Those scans decide what is analysed
    again (an edit assigning ``D`` reaches the GAN loop spelling ``D``, and the edited
    assignment is in the tree); an assignment of the name in a definition left out of
    the tree is what the full check, once typing pauses, still covers."""
    patterns = {p for i in affected for p in reads[i].scans}
    by_code = {scan.code for scan in file_reads.rule_scans}
    applying = {code for code in by_code if any(texts.may_apply(code, i) for i in affected)}
    patterns |= {scan.pattern for scan in file_reads.rule_scans if scan.code in applying}
    return {p for p in patterns if not is_name_scan(p)}


def _partial_tree(
    lines: list[str], units: list[Unit], others: set[int], region: ast.Module
) -> ast.Module | None:
    """A module of the edited region's statements (parsed already) and ``others``, each
    at its place in the file (the lines of the units left out are blank)."""
    kept = [""] * len(lines)
    for index in others:
        unit = units[index]
        kept[unit.first : unit.last + 1] = lines[unit.first : unit.last + 1]
    tree = _parse("\n".join(kept))
    if tree is not None:
        tree.body = sorted([*tree.body, *region.body], key=lambda stmt: stmt.lineno)
    return tree


# -- findings carried over --------------------------------------------------------------


def _units_of_stale_findings(plan: _Plan, edited: int) -> set[int]:
    """Units outside the edit with a finding that points into it, or that quotes a
    line number the edit moved."""
    stale: set[int] = set()
    for finding in plan.baseline.findings:
        index = _new_index(plan, finding.span.start.line, edited)
        if index is None:
            continue
        # A line next to a fix's span counts too: a fix that moves a statement takes the
        # comment lines just above it.
        touches = any(
            s.end.line >= plan.lo - 1 and s.start.line <= plan.hi + 1 for s in _spans(finding)
        )
        if touches or (plan.delta and _quotes_a_line(finding)):
            stale.add(index)
    return stale


def _carried_over(plan: _Plan, edited: int, affected: set[int]) -> list[Finding]:
    carried = []
    for finding in plan.baseline.findings:
        index = _new_index(plan, finding.span.start.line, edited)
        if index is not None and index not in affected:
            carried.append(_moved(finding, plan.hi, plan.delta) if plan.delta else finding)
    return carried


def _new_index(plan: _Plan, old_line: int, edited: int) -> int | None:
    """The new index of the old unit holding ``old_line``; None inside the edit."""
    if plan.lo <= old_line <= plan.hi:
        return None
    index = unit_at(plan.baseline.units, old_line)
    if index is None or index < plan.first_unit:
        return index
    return index - plan.end_unit + plan.first_unit + edited


def _spans(finding: Finding) -> list[Span]:
    spans = [finding.span, *(r.span for r in finding.related)]
    spans += [edit.span for fix in finding.fixes for edit in fix.edits]
    return spans


def _quotes_a_line(finding: Finding) -> bool:
    texts = [finding.message, *(r.message for r in finding.related)]
    texts += [fix.title for fix in finding.fixes]
    return any(_QUOTES_A_LINE.search(t) for t in texts)


def _moved(finding: Finding, after: int, delta: int) -> Finding:
    """``finding`` with every position below line ``after`` moved by ``delta`` lines."""

    def span(s: Span) -> Span:
        return Span(_position(s.start, after, delta), _position(s.end, after, delta))

    fixes = tuple(
        dataclasses.replace(
            f, edits=tuple(dataclasses.replace(e, span=span(e.span)) for e in f.edits)
        )
        for f in finding.fixes
    )
    related = tuple(dataclasses.replace(r, span=span(r.span)) for r in finding.related)
    return dataclasses.replace(finding, span=span(finding.span), related=related, fixes=fixes)


def _position(position: Position, after: int, delta: int) -> Position:
    return Position(position.line + delta, position.column) if position.line > after else position


# -- in full --------------------------------------------------------------------------


def _full(
    text: str,
    path: str,
    config: Config,
    resolver: SymbolResolver | None,
    time_limit: float | None,
    cancelled: Callable[[], bool] | None,
    previous: Baseline | None = None,
) -> Reanalysis:
    """A whole analysis. A text that does not parse keeps ``previous`` (a baseline of this
    path and configuration) for the next edit: typing passes through such texts at every
    other keystroke (``x =``, ``f(``), and the next one then builds on the last that
    parsed instead of analysing the whole file again."""
    with recording() as recorder:
        result, facts = analyze_with_facts(
            text, path, config=config, resolver=resolver, time_limit=time_limit, cancelled=cancelled
        )
    if result.parse_error is not None and previous is not None:
        return Reanalysis(result, None, previous, "full")
    baseline = None
    if facts is not None and not result.notices:
        source = facts.source
        units = units_of(facts.tree.body, source.lines)
        codes = _rule_codes(source, config)
        findings = list(result.findings)
        reads = from_log(recorder.logs[0] if recorder.logs else None, units)
        baseline = Baseline(
            path, config, codes, source.lines, units, findings, True, source.newline, reads
        )
    return Reanalysis(result, facts, baseline, "full")


def _parse(text: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(text)
    # SystemError: CPython's AST constructor (docs/reliability.md); the whole parse retries.
    except (SyntaxError, ValueError, RecursionError, MemoryError, SystemError):
        return None
