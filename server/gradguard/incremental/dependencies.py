"""Which units an edit can change the findings of, and which units their analysis reads.

Information flows between units through names (see :mod:`gradguard.incremental`):
a definition's meaning flows to the units mentioning its name, a module variable's
to the units reading it, and a caller's arguments flow into the function called.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable

from gradguard.incremental.units import Unit, mentioning, unit_at
from gradguard.semantic.reads import RuleLookup
from gradguard.source import searchable_text


def changed_names(removed: Iterable[Unit], edited: Iterable[Unit]) -> set[str]:
    """The module names an edit may bind anew: those a definition gains or loses, what
    edited module code binds, and what an edited definition binds from inside (``global``
    declarations, nested classes, imports). A body edit of ``def f`` leaves ``f`` bound to
    it: who read its code is in the recorded reads."""
    removed, edited = list(removed), list(edited)
    before = {name for unit in removed for name in unit.exports}
    after = {name for unit in edited for name in unit.exports}
    changed = before ^ after
    for unit in (*removed, *edited):
        changed |= unit.exports if unit.is_module_code else unit.exports - {unit.name}
    return changed


def affected_units(
    units: list[Unit],
    seeds: set[int],
    removed: Iterable[Unit],
    edited: Iterable[Unit],
    readers: set[int],
) -> set[int]:
    """The units whose findings may change: the edited ones (``seeds``); those whose
    recorded reads include the edit (``readers``: :func:`gradguard.incremental.reads.readers_of`
    and the rules' scans and lookups); every unit spelling a name the edit binds anew
    (:func:`changed_names`); the functions the edited code calls or called (the values
    passed in, the loop around the call changed; what a function reads of its callers
    is in its recorded reads); and all module code once any of it is affected, edited or
    removed (a module's statements are one flow)."""
    removed, edited = list(removed), list(edited)
    functions = {unit.name: i for i, unit in enumerate(units) if unit.is_function}
    module_code = {i for i, unit in enumerate(units) if unit.is_module_code}
    affected = set(seeds) | set(readers) | mentioning(units, changed_names(removed, edited))
    affected |= {functions[w] for u in (*removed, *edited) for w in u.words if w in functions}
    if affected & module_code or any(u.is_module_code for u in (*removed, *edited)):
        affected |= module_code
    return affected


def needed_units(units: list[Unit], affected: set[int], edited: set[int]) -> set[int]:
    """What the analysis of ``affected`` needs beyond their recorded reads (added by the
    caller): what the edited code may read anew, by name (the definitions of the names it
    spells, transitively; a reader's new reads go through the edited code, so they are
    among these); the units spelling an edited definition's name (its callers: what they
    pass); the module code binding a variable any of them spells (the evaluators of
    ``analysis/`` read module assignments by walking the module), and every import (a
    fix may need one a unit does not name: ``torch.no_grad()``)."""
    exporters = _exporters(units)
    variables = {name for unit in units if unit.binds_values for name in unit.exports}
    module_code = [i for i, unit in enumerate(units) if unit.is_module_code]
    needed = set(affected) | {i for i in module_code if not units[i].binds_values}
    needed |= mentioning(units, {name for i in edited if (name := units[i].name)})
    expanded: set[int] = set()
    queue = list(edited)
    while queue:
        index = queue.pop()
        if index in expanded:
            continue
        expanded.add(index)
        needed.add(index)
        for name in units[index].words & exporters.keys():
            queue.extend(exporters[name])
    # Module variables, for every unit of the tree (transitively: module code reads them too).
    queue = list(needed)
    while queue:
        read = units[queue.pop()].words & variables
        for index in module_code:
            if index not in needed and not units[index].words.isdisjoint(read):
                needed.add(index)
                queue.append(index)
    return needed


def scanned_units(units: list[Unit], lines: list[str], patterns: Iterable[str]) -> set[int]:
    """The units holding a line that matches one of ``patterns`` (what a whole-file scan
    of the analysis read: they belong in the tree that analyses a reader again)."""
    patterns = sorted(set(patterns))
    if not patterns:
        return set()
    search = re.compile("|".join(f"(?:{p})" for p in patterns)).search
    text = searchable_text("\n".join(lines))
    starts = [0, *(m.end() for m in re.finditer("\n", text))]
    if len(starts) != len(lines):  # normalising made or took a line break: line by line
        numbers = [n for n, line in enumerate(lines) if search(searchable_text(line))]
    else:
        numbers = _matching_lines(search, text, starts)
    return {index for n in numbers if (index := unit_at(units, n)) is not None}


def _matching_lines(
    search: Callable[[str, int], re.Match[str] | None], text: str, starts: list[int]
) -> list[int]:
    """The lines in which a match starts, searching the whole text (in C) from the line
    after each one found: every line a search of it alone matches is among them (a
    match found from an earlier line starts at or before that line's own)."""
    found = []
    position = 0
    while (match := search(text, position)) is not None:
        line = bisect.bisect_right(starts, match.start()) - 1
        found.append(line)
        if line + 1 >= len(starts):
            break
        position = starts[line + 1]
    return found


def rule_lookup_readers(
    units: list[Unit],
    lookups: Iterable[RuleLookup],
    changed: Iterable[Unit],
    may_apply: Callable[[str, int], bool],
) -> set[int]:
    """The units a rule may report on (``may_apply(code, index)``) that spell a name the
    rule looked up for no reader in particular, when that name's definition is edited or
    leads to an edited one by the names its code spells (the rule may have followed
    them)."""
    lookups = list(lookups)
    if not lookups:
        return set()
    exporters = _exporters(units)
    reached = {name for unit in changed for name in unit.exports}
    words = {lookup.word for lookup in lookups}
    grew = True
    while grew:
        grew = False
        for word in words - reached:
            if any(not units[i].words.isdisjoint(reached) for i in exporters.get(word, ())):
                reached.add(word)
                grew = True
    found = set()
    for lookup in lookups:
        if lookup.word in reached:
            found |= {
                i
                for i, unit in enumerate(units)
                if lookup.word in unit.words and may_apply(lookup.code, i)
            }
    return found


def rule_lookup_units(
    units: list[Unit], lookups: Iterable[RuleLookup], start: set[int]
) -> set[int]:
    """The definitions of the names rules looked up for no reader that ``start`` spell,
    and of those their code spells, transitively (the tree of an analysis of ``start``)."""
    words = {lookup.word for lookup in lookups}
    if not words:
        return set()
    exporters = _exporters(units)
    found: set[int] = set()
    queue = list(start)
    while queue:
        for word in units[queue.pop()].words & words:
            for index in exporters.get(word, ()):
                if index not in found:
                    found.add(index)
                    queue.append(index)
    return found


def _exporters(units: list[Unit]) -> dict[str, list[int]]:
    exporters: dict[str, list[int]] = {}
    for index, unit in enumerate(units):
        for name in unit.exports:
            exporters.setdefault(name, []).append(index)
    return exporters
