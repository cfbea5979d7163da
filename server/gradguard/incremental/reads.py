"""The read sets of a baseline: for each unit, what its analysis read (recorded by
:mod:`gradguard.semantic.reads` during the analysis), as unit indices and patterns."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from gradguard.incremental.units import Unit, unit_at
from gradguard.semantic.reads import Calls, Header, Lookup, ReadLog, RuleLookup, RuleScan, Scan


@dataclass(frozen=True)
class UnitReads:
    #: Units whose code this unit's analysis read.
    units: frozenset[int] = frozenset()
    #: Units read with every same-file function they call, transitively.
    calls: frozenset[int] = frozenset()
    #: Patterns of whole-file scans: an edit matching one may change the findings.
    scans: frozenset[str] = frozenset()
    #: Class units of which only the header was read (their kind).
    headers: frozenset[int] = frozenset()

    def moved(self, index: dict[int, list[int]]) -> UnitReads:
        """The same reads in a file whose units moved (``index``: old -> new indices)."""

        def move(old: frozenset[int]) -> frozenset[int]:
            return frozenset(n for i in old for n in index.get(i, ()))

        return UnitReads(move(self.units), move(self.calls), self.scans, move(self.headers))


NO_READS = UnitReads()


@dataclass(frozen=True)
class FileReads:
    per_unit: tuple[UnitReads, ...]
    #: Scans no reader claimed: every unit the rule may report on read them.
    rule_scans: frozenset[RuleScan]
    #: Definitions looked up by name for no reader: every unit the rule may report on
    #: that spells the name read them.
    rule_lookups: frozenset[RuleLookup] = frozenset()


def from_log(log: ReadLog | None, units: list[Unit]) -> FileReads | None:
    """The reads of ``log`` per unit of ``units`` (None: nothing was recorded)."""
    if log is None:
        return None
    per_unit: list[dict[str, set]] = [
        {"u": set(), "c": set(), "s": set(), "h": set()} for _ in units
    ]
    for reader, reads in log.by_reader.items():
        index = unit_at(units, reader)
        if index is None:
            continue
        slot = per_unit[index]
        for read in reads:
            if isinstance(read, Scan):
                slot["s"].add(read.pattern)
                continue
            line = read.line if isinstance(read, (Calls, Lookup, Header)) else read
            found = unit_at(units, line)
            if found is not None:
                kind = "c" if isinstance(read, Calls) else "h" if isinstance(read, Header) else "u"
                slot[kind].add(found)
    return FileReads(
        tuple(
            UnitReads(
                frozenset(s["u"]), frozenset(s["c"]), frozenset(s["s"]), frozenset(s["h"] - s["u"])
            )
            for s in per_unit
        ),
        frozenset(log.rule_scans),
        frozenset(log.rule_lookups),
    )


def call_closure(
    units: list[Unit], start: Iterable[int], functions: dict[str | None, int] | None = None
) -> set[int]:
    """``start`` and every same-file function they call, transitively (by name);
    ``functions``: :func:`function_index` of ``units``, when the caller has it."""
    if functions is None:
        functions = function_index(units)
    reached = set(start)
    queue = list(reached)
    while queue:
        for word in units[queue.pop()].words & functions.keys():
            callee = functions[word]
            if callee not in reached:
                reached.add(callee)
                queue.append(callee)
    return reached


def function_index(units: list[Unit]) -> dict[str | None, int]:
    """The index of each top-level function's unit, by name."""
    return {unit.name: i for i, unit in enumerate(units) if unit.is_function}


def readers_of(
    units: list[Unit],
    reads: tuple[UnitReads, ...],
    changed: set[int],
    changed_text: str,
    headers: set[int],
) -> set[int]:
    """The units whose recorded reads include a changed unit (directly, or through the
    functions a read unit calls; ``headers``: the changed units whose class header
    changed, for the units that read only that) or a scan the changed lines match."""
    closures: dict[int, set[int]] = {}
    functions = function_index(units)  # once: a closure per start rebuilt it per start
    found = set()
    matches: dict[str, bool] = {}
    for index, read in enumerate(reads):
        if read.units & changed or read.headers & headers:
            found.add(index)
            continue
        hit = False
        for start in read.calls:
            if start not in closures:
                closures[start] = call_closure(units, [start], functions)
            if closures[start] & changed:
                hit = True
                break
        if not hit:
            for pattern in read.scans:
                if pattern not in matches:
                    matches[pattern] = re.search(pattern, changed_text) is not None
                if matches[pattern]:
                    hit = True
                    break
        if hit:
            found.add(index)
    return found


def read_units(units: list[Unit], reads: tuple[UnitReads, ...], readers: set[int]) -> set[int]:
    """The units ``readers``' analysis read (the tree that analyses them again needs them)."""
    direct = {i for r in readers for i in reads[r].units | reads[r].headers}
    called = call_closure(units, {i for r in readers for i in reads[r].calls})
    return direct | called
