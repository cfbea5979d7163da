"""Which units an edit can change the findings of, and which units their analysis reads.

Information flows between units through names (see :mod:`gradguard.incremental`):
a definition's meaning flows to the units mentioning its name, a module variable's
to the units reading it, and a caller's arguments flow into the function called.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gradguard.incremental.units import Unit, mentioning, unit_at
from gradguard.source import searchable_text


def affected_units(
    units: list[Unit],
    seeds: set[int],
    removed: Iterable[Unit],
    edited_words: Iterable[str],
    readers: set[int],
) -> set[int]:
    """The units whose findings may change, to a fixed point: the edited ones
    (``seeds``); those whose recorded reads include the edit (``readers``:
    :func:`gradguard.incremental.reads.readers_of`); every unit mentioning a name whose
    meaning may have changed (one an edited or affected unit exports); the functions the
    edited code calls or called (``edited_words``: the values passed in, the loop around
    the call changed), and all module code once any of it is affected or removed (a
    module's statements are one flow; the functions it calls too). A function an
    affected function calls is not analysed again for that alone: what it reads of its
    callers is in its recorded reads."""
    removed = list(removed)
    functions = {unit.name: i for i, unit in enumerate(units) if unit.is_function}
    module_code = {i for i, unit in enumerate(units) if unit.is_module_code}
    affected: set[int] = set()
    exported: set[int] = set()  # units whose exports were spread
    spread: set[str] = set()  # names whose readers are known
    names = {name for unit in removed for name in unit.exports}
    exporting = set(seeds) | set(readers) | {functions[w] for w in edited_words if w in functions}
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
        mentioned = mentioning(units, names) if names else set()
        # Module code is one flow read by the old evaluators of `analysis/` (what a
        # module-level call passes): the functions it calls are analysed again.
        called = {functions[w] for i in new & module_code for w in units[i].words if w in functions}
        exporting = (mentioned | called) - exported
        new = (mentioned | called) - affected
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


def scanned_units(units: list[Unit], lines: list[str], patterns: Iterable[str]) -> set[int]:
    """The units holding a line that matches one of ``patterns`` (what a whole-file scan
    of the analysis read: they belong in the tree that analyses a reader again)."""
    patterns = sorted(set(patterns))
    if not patterns:
        return set()
    search = re.compile("|".join(f"(?:{p})" for p in patterns)).search
    found = set()
    for number, line in enumerate(lines):
        if search(searchable_text(line)):
            index = unit_at(units, number)
            if index is not None:
                found.add(index)
    return found
