"""Which units an edit can change the findings of, and which units their analysis reads.

Information flows between units through names (see :mod:`gradguard.incremental`):
a definition's meaning flows to the units mentioning its name, a module variable's
to the units reading it, and a caller's arguments flow into the function called.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gradguard.incremental.units import Unit, mentioning, unit_at, unit_text
from gradguard.rules import all_rules
from gradguard.rules.base import Rule
from gradguard.source import searchable_text


def affected_units(
    units: list[Unit], seeds: set[int], removed: Iterable[Unit], edited_words: Iterable[str]
) -> set[int]:
    """The units whose findings may change, to a fixed point: the edited ones
    (``seeds``); every unit reading a name whose meaning may have changed (one an
    edited, reading or called unit exports); the functions an affected unit calls, and
    those the edited code called (``edited_words``), since rules read a function's
    callers (the values passed in, the loop around the call); and all module code once
    any of it is affected or removed (a module's statements are one flow)."""
    removed = list(removed)
    functions = {unit.name: i for i, unit in enumerate(units) if unit.is_function}
    module_code = {i for i, unit in enumerate(units) if unit.is_module_code}
    affected: set[int] = set()
    exported: set[int] = set()  # units whose exports were spread
    spread: set[str] = set()  # names whose readers are known
    names = {name for unit in removed for name in unit.exports}
    exporting = set(seeds) | {functions[w] for w in edited_words if w in functions}
    new = set(exporting)
    if any(unit.is_module_code for unit in removed):
        new |= module_code
    while new or exporting or names:
        if module_code & new:
            new |= module_code  # re-analysed for the flow; spreads only what it reads
        affected |= new
        names |= {name for i in exporting for name in units[i].exports}
        exported |= exporting
        names -= spread
        spread |= names
        readers = mentioning(units, names) if names else set()
        called = {functions[w] for i in new for w in units[i].words if w in functions}
        exporting = (readers | called) - exported
        new = (readers | called) - affected
        names = set()
    return affected


def needed_units(units: list[Unit], affected: set[int]) -> set[int]:
    """``affected`` and what their analysis reads: the definitions of the names they
    mention and the module code using the module variables they read (transitively),
    and the callers of the functions among them (whose arguments the rules read)."""
    exporters: dict[str, list[int]] = {}
    for index, unit in enumerate(units):
        for name in unit.exports:
            exporters.setdefault(name, []).append(index)
    variables = {name for unit in units if unit.binds_values for name in unit.exports}
    functions = {units[i].name for i in affected if units[i].is_function}
    needed = affected | mentioning(units, (n for n in functions if n))
    # Imports are short, and a fix may need one a unit does not name (`torch.no_grad()`).
    needed |= {i for i, unit in enumerate(units) if unit.is_module_code and not unit.binds_values}
    module_code = [i for i, unit in enumerate(units) if unit.is_module_code]
    queue = list(needed)
    while queue:
        words = units[queue.pop()].words
        reached: set[int] = set()
        for name in words & exporters.keys():
            reached.update(exporters[name])
        read = words & variables
        if read:
            reached.update(i for i in module_code if not units[i].words.isdisjoint(read))
        for index in reached - needed:
            needed.add(index)
            queue.append(index)
    return needed


def whole_file_readers(
    units: list[Unit], lines: list[str], rule_codes: Iterable[str], edited_text: str
) -> set[int]:
    """The units that may hold a finding of a rule collecting code from the whole file
    (``Rule.reads_whole_file``), when the old or new edited text (``edited_text``)
    holds such code: adding ``bias=False`` anywhere changes GG304's findings elsewhere."""
    edited = searchable_text(edited_text)
    rules = [r for r in _whole_file_rules(rule_codes) if re.search(r.reads_whole_file, edited)]
    if not rules:
        return set()
    texts = [unit_text(lines, u.first, u.last) for u in units]
    return {i for i, text in enumerate(texts) if any(rule.may_apply(text) for rule in rules)}


def whole_file_units(
    units: list[Unit], lines: list[str], rule_codes: Iterable[str], affected: set[int]
) -> set[int]:
    """The units holding code a rule collects from the whole file (``Rule.reads_whole_file``),
    when an affected unit may hold one of that rule's findings."""
    texts = [unit_text(lines, units[i].first, units[i].last) for i in affected]
    patterns = [
        rule.reads_whole_file
        for rule in _whole_file_rules(rule_codes)
        if any(rule.may_apply(text) for text in texts)
    ]
    if not patterns:
        return set()
    search = re.compile("|".join(f"(?:{p})" for p in patterns)).search
    found = set()
    for number, line in enumerate(lines):
        if search(line):
            index = unit_at(units, number)
            if index is not None:
                found.add(index)
    return found


def _whole_file_rules(rule_codes: Iterable[str]) -> list[Rule]:
    """The enabled rules that collect code from the whole file (``reads_whole_file``)."""
    codes = set(rule_codes)
    return [rule for rule in all_rules() if rule.code in codes and rule.reads_whole_file]
