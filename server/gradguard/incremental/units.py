"""A file cut into units: its top-level definitions and its module code.

A unit is a top-level ``def`` or ``class`` (decorators included) or any other
top-level statement (statements sharing a line are one unit). Its *exports* are
the names it binds in the module; its *words*, the names it may use: every word
of its text that could be an identifier and is not an attribute (``x.name``).
Both are read from the text where the tree would cost a walk of every
definition; words in comments and strings only add dependencies.
"""

from __future__ import annotations

import ast
import bisect
import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass

from gradguard.analysis.facts import line_range
from gradguard.source import searchable_text

_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
# A character that may be part of an identifier: anything but white space and ASCII
# punctuation other than ``_`` (``\w`` misses the combining marks Python allows, as
# in ``गणना``; a wider class only adds words). Words are read after NFKC.
_NAME_CHAR = r"[^\s!-/:-@\[-^`{-~]"
# A name that is not an attribute (``x.name``).
_WORD = re.compile(rf"(?<!\.)(?<!{_NAME_CHAR}){_NAME_CHAR}+")
# Classes defined and globals declared inside a definition (both are module names).
_INNER_CLASS = re.compile(rf"^[ \t]+class[ \t]+({_NAME_CHAR}+)", re.MULTILINE)
_GLOBAL = re.compile(rf"\bglobal[ \t]+({_NAME_CHAR}+(?:[ \t]*,[ \t]*{_NAME_CHAR}+)*)")
# Imports inside a definition: the analysis reads a file's imports wherever they are.
_INNER_IMPORT = re.compile(r"^[ \t]+(?:from[ \t]+\S+[ \t]+)?import[ \t]+([^#\n]+)", re.MULTILINE)


@dataclass(frozen=True)
class Unit:
    first: int  # 0-based first line, decorators included
    last: int  # 0-based last line
    name: str | None  # of a top-level def or class; None for module code
    is_function: bool
    exports: frozenset[str]
    words: frozenset[str]
    #: Module code that binds more than imports (a module variable others may read).
    binds_values: bool = False

    @property
    def is_module_code(self) -> bool:
        return self.name is None

    def moved(self, delta: int) -> Unit:
        return dataclasses.replace(self, first=self.first + delta, last=self.last + delta)


def units_of(body: list[ast.stmt], lines: list[str]) -> list[Unit]:
    """The units of a module's (or an edited region's) statements; ``lines`` are the
    file's lines, which the statements' positions index."""
    groups: list[list[ast.stmt]] = []
    reached = -1
    for stmt in body:
        first, last = line_range(stmt)
        if groups and first <= reached:
            groups[-1].append(stmt)  # ``import os; x = 1``: one line, one unit
        else:
            groups.append([stmt])
        reached = max(reached, last)
    return [_unit(group, lines) for group in groups]


def unit_at(units: list[Unit], line: int) -> int | None:
    """The index of the unit holding ``line``; None in the lines between units."""
    index = bisect.bisect_right(units, line, key=lambda u: u.first) - 1
    if index >= 0 and units[index].last >= line:
        return index
    return None


def unit_text(lines: list[str], first: int, last: int) -> str:
    """The text of lines ``first``..``last`` as Python reads identifiers (NFKC)."""
    return searchable_text("\n".join(lines[first : last + 1]))


def _unit(group: list[ast.stmt], lines: list[str]) -> Unit:
    first = line_range(group[0])[0]
    last = max(line_range(stmt)[1] for stmt in group)
    text = unit_text(lines, first, last)
    words = frozenset(_WORD.findall(text))
    head = group[0]
    if len(group) == 1 and isinstance(head, _DEFINITIONS):
        inner = set(_INNER_CLASS.findall(text))
        for declared in _GLOBAL.findall(text):
            inner.update(name.strip() for name in declared.split(","))
        for imported in _INNER_IMPORT.findall(text):
            inner.update(_imported_names(imported))
        is_function = not isinstance(head, ast.ClassDef)
        exports = frozenset({head.name, *inner})
        return Unit(first, last, head.name, is_function, exports, words)
    bound: set[str] = set()
    for stmt in group:
        bound |= _bound_names(stmt)
    only_imports = all(isinstance(s, (ast.Import, ast.ImportFrom)) for s in group)
    return Unit(first, last, None, False, frozenset(bound), words, not only_imports)


def _imported_names(clause: str) -> set[str]:
    """``a.b as c, d`` -> {c, d}; ``(a, b)`` -> {a, b} (a line that continues is cut
    short: only a dependency is lost, and the full check covers it)."""
    names = set()
    for part in clause.strip().strip("()\\").split(","):
        words = part.split()
        if words:
            names.add(words[-1] if len(words) == 3 and words[1] == "as" else words[0].split(".")[0])
    return names


def _bound_names(stmt: ast.stmt) -> set[str]:
    """Every name a module-level statement binds (targets, imports, definitions)."""
    bound: set[str] = set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name):
            if not isinstance(node.ctx, ast.Load):
                bound.add(node.id)
        elif isinstance(node, _DEFINITIONS):
            bound.add(node.name)
        elif isinstance(node, ast.Global):
            bound.update(node.names)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update(a.asname or a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound


def mentioning(units: list[Unit], names: Iterable[str]) -> set[int]:
    """The units whose words include any of ``names``."""
    wanted = frozenset(names)
    if not wanted:
        return set()
    return {i for i, unit in enumerate(units) if not unit.words.isdisjoint(wanted)}
