"""Exclude patterns that are a bare name, matched without pathspec.

The default ``exclude`` (``.git``, ``build``, ``*.egg-info``, ...) is checked on every
directory and file a run walks; importing pathspec costs about as much as a cached
rerun's lookup of every file. A pattern with no slash (but perhaps a trailing one),
no ``[``, ``\\``, ``!``, ``#``, ``**`` or space matches, in gitwildmatch, any
component of the path: a directory of that name anywhere, and everything below it
(with a trailing ``/``, directories only); its ``*`` and ``?`` never cross a ``/``,
which is what :func:`fnmatch.translate`'s expression does on one component.
``tests/test_name_patterns.py`` checks this against pathspec.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from fnmatch import translate

_GLOB = re.compile(r"[*?]")
_BARE_NAME = re.compile(r"^(?!\.+/?$)[\w.*?+=@%,~-]+/?$")


def all_bare_names(patterns: tuple[str, ...]) -> bool:
    return all(_BARE_NAME.match(p) and "**" not in p for p in patterns)


class NamePatterns:
    """``match_file`` of pathspec's ``GitIgnoreSpec`` for bare-name patterns: a path
    relative to the patterns' root, ending in ``/`` for a directory."""

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self._any_kind = _NameSet(p for p in patterns if not p.endswith("/"))
        self._directories = _NameSet(p[:-1] for p in patterns if p.endswith("/"))

    def match_file(self, relative: str) -> bool:
        parts = relative.split("/")
        is_dir = parts[-1] == ""
        names = parts[:-1] if is_dir else parts
        directories = names if is_dir else names[:-1]
        return any(map(self._any_kind.has, names)) or any(map(self._directories.has, directories))


class _NameSet:
    """Names and globs: the names in a set, the globs as one expression."""

    def __init__(self, patterns: Iterable[str]) -> None:
        patterns = list(patterns)
        self._names = frozenset(p for p in patterns if not _GLOB.search(p))
        globs = [translate(p) for p in patterns if _GLOB.search(p)]
        self._globs = re.compile("|".join(globs)) if globs else None

    def has(self, name: str) -> bool:
        return name in self._names or (self._globs is not None and bool(self._globs.match(name)))
