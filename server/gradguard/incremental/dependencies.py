"""Which units an edit can change the findings of, and which units their analysis reads.

Information flows between units through names (see :mod:`gradguard.incremental`):
a definition's meaning flows to the units mentioning its name, a module variable's
to the units reading it, and a caller's arguments flow into the function called.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gradguard.incremental.units import Unit, mentioning, unit_at
from gradguard.rules import all_rules
from gradguard.source import searchable_text

# Stands in for a unit that is not module code (it mentions nothing).
_NO_WORDS = Unit(-1, -1, "", False, frozenset(), frozenset())


def affected_units(
    units: list[Unit], seeds: set[int], removed: Iterable[Unit], edited_words: Iterable[str]
) -> set[int]:
    """The units whose findings may change: the edited ones (``seeds``), the readers of
    what any affected unit exports (transitively), the functions the edited code calls
    or called (``edited_words``: words of the old and new edited text), and all module
    code once any of it is affected (a module's statements are one flow)."""
    affected = set(seeds)
    changed = {name for unit in removed for name in unit.exports}
    changed |= {name for index in seeds for name in units[index].exports}
    spread = set(changed)
    while changed:
        readers = mentioning(units, changed) - affected
        affected |= readers
        changed = {name for index in readers for name in units[index].exports} - spread
        spread |= changed
    called = set(edited_words)
    affected |= {i for i, unit in enumerate(units) if unit.is_function and unit.name in called}
    if any(units[i].is_module_code for i in affected):
        affected |= {i for i, unit in enumerate(units) if unit.is_module_code}
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
    module_code = [unit if unit.is_module_code else _NO_WORDS for unit in units]
    queue = list(needed)
    while queue:
        words = units[queue.pop()].words
        reached: set[int] = set()
        for name in words & exporters.keys():
            reached.update(exporters[name])
        read = words & variables
        if read:
            reached |= mentioning(module_code, read)
        for index in reached - needed:
            needed.add(index)
            queue.append(index)
    return needed


def whole_file_units(
    units: list[Unit], lines: list[str], rule_codes: Iterable[str], affected: set[int]
) -> set[int]:
    """The units holding code a rule collects from the whole file (``Rule.reads_whole_file``),
    when an affected unit may hold one of that rule's findings."""
    codes = set(rule_codes)
    unit_texts = [
        searchable_text("\n".join(lines[units[i].first : units[i].last + 1])) for i in affected
    ]
    patterns = [
        rule.reads_whole_file
        for rule in all_rules()
        if rule.code in codes
        and rule.reads_whole_file
        and any(rule.may_apply(unit_text) for unit_text in unit_texts)
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
