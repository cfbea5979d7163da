"""What a dict, ``dict(...)`` or ``**kwargs`` of :mod:`gradguard.semantic.constants` holds
under a key: literal entries, ``**`` merges, later stores ``cfg["bias"] = ...`` and
mutating calls (``update``, ``pop``...), which make a key's value unknown."""

from __future__ import annotations

import ast
from functools import cached_property
from typing import TYPE_CHECKING, Any

from gradguard.semantic.constant_items import UNKNOWN_CONSTANT, Constant, Item, Keywords, Mapping
from gradguard.semantic.objects import UNKNOWN

_MUTATORS = frozenset({"update", "setdefault", "pop", "popitem", "clear"})


class MappingLookups:
    """Part of :class:`~gradguard.semantic.constants.Constants` (a mixin: it uses its
    ``facts``, ``value_of`` and call index)."""

    facts: Any
    _looking: set[tuple[Item, object]]

    if TYPE_CHECKING:  # provided by Constants

        def value_of(self, expr: ast.AST) -> Constant: ...

        def note_read(self, node: ast.AST) -> None: ...

        @property
        def _method_calls(self) -> dict[str, list[ast.Call]]: ...

    def lookup(self, value: Constant, key: object) -> tuple[Constant, bool]:
        """What ``value[key]`` may hold (``key`` None: any key), and whether the key may
        be absent (then a default applies, or the lookup raises)."""
        found: set[Item] = set()
        absent = False
        for item in value:
            if (item, key) in self._looking:  # `d = {**d, ...}`: no more than shown
                more, may_be_absent = UNKNOWN_CONSTANT, True
            elif isinstance(item, (Mapping, Keywords)):
                self._looking.add((item, key))
                try:
                    more, may_be_absent = (
                        self._mapping_lookup(item, key)
                        if isinstance(item, Mapping)
                        else self._keywords_lookup(item, key)
                    )
                finally:
                    self._looking.discard((item, key))
            else:
                more, may_be_absent = UNKNOWN_CONSTANT, True
            found |= more
            absent = absent or may_be_absent
        return frozenset(found), absent or not value

    def _entries(self, site: ast.Dict | ast.Call) -> list[tuple[ast.expr | None, ast.expr]]:
        """``(key, value)`` pairs; a None key is a ``**`` merge of the value."""
        if isinstance(site, ast.Dict):
            return list(zip(site.keys, site.values, strict=True))
        pairs: list[tuple[ast.expr | None, ast.expr]] = [(None, a) for a in site.args[:1]]
        for keyword in site.keywords:
            key = ast.Constant(keyword.arg) if keyword.arg else None
            pairs.append((key, keyword.value))
        return pairs

    def _mapping_lookup(self, mapping: Mapping, key: object) -> tuple[Constant, bool]:
        self.note_read(mapping.site)
        found: set[Item] = set()
        present = False
        for entry_key, entry in self._entries(mapping.site):
            if entry_key is None:
                more, absent = self.lookup(self.value_of(entry), key)
                found |= more
                present = present or not absent
            elif not isinstance(entry_key, ast.Constant):
                found |= UNKNOWN_CONSTANT  # a computed key may be this one
            elif key is None or entry_key.value == key:
                found |= self.value_of(entry)
                present = True
        changed, mutated = self._changes(mapping, key)
        return frozenset(found | changed), mutated or not present

    def _keywords_lookup(self, keywords: Keywords, key: object) -> tuple[Constant, bool]:
        named = {a.arg for a in [*keywords.function.args.args, *keywords.function.args.kwonlyargs]}
        found: set[Item] = set()
        present = False
        for keyword in keywords.call.keywords:
            if keyword.arg is None:
                more, absent = self.lookup(self.value_of(keyword.value), key)
                found |= more
                present = present or not absent
            elif keyword.arg not in named and (key is None or keyword.arg == key):
                found |= self.value_of(keyword.value)
                present = True
        return frozenset(found), not present

    def _changes(self, mapping: Mapping, key: object) -> tuple[Constant, bool]:
        """Stores ``d[key] = value`` into the mapping anywhere in the file, and whether it
        may be changed otherwise (``d.update(...)``, a computed key)."""
        found: set[Item] = set()
        mutated = False
        for target, statement in self._subscript_stores:
            if mapping in self.value_of(target.value):
                self.note_read(statement)
                index = target.slice
                if not isinstance(index, ast.Constant):
                    found.add(UNKNOWN)
                    mutated = True
                elif key is None or index.value == key:
                    found |= self.value_of(statement.value)
        for call in self._mutations:
            if mapping in self.value_of(call.func.value):  # type: ignore[attr-defined]
                found.add(UNKNOWN)
                mutated = True
        return frozenset(found), mutated

    @cached_property
    def _subscript_stores(self) -> list[tuple[ast.Subscript, ast.Assign]]:
        return [
            (target, node)  # type: ignore[misc]
            for node in self.facts.nodes_of(ast.Assign)
            for target in node.targets  # type: ignore[attr-defined]
            if isinstance(target, ast.Subscript)
        ]

    @cached_property
    def _mutations(self) -> list[ast.Call]:
        return [c for name in _MUTATORS for c in self._method_calls.get(name, [])]
