"""The values of :mod:`gradguard.semantic.constants`: literals, references to library
callables, ``functools.partial`` objects, dict literals, ``**kwargs`` and classes, and the
small questions asked of a set of them (``False`` only? which ``False``?)."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from gradguard.semantic.objects import UNKNOWN, AbstractObject

Function = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class Literal:
    value: object
    site: ast.AST  # the literal; the layer call for a constructor's default
    default: bool = False  # a library default, not written in the file


@dataclass(frozen=True)
class Reference:
    """A library callable by qualified name (``torch.nn.init.zeros_``)."""

    qualified: str


@dataclass(frozen=True)
class Partial:
    """``functools.partial(function, **keywords)``."""

    site: ast.Call
    function: Constant
    keywords: tuple[tuple[str, Constant], ...]
    positional: bool  # it binds positional arguments too


@dataclass(frozen=True)
class Mapping:
    """A dict literal or ``dict(...)`` call."""

    site: ast.Dict | ast.Call


@dataclass(frozen=True)
class Keywords:
    """What ``**kwargs`` of ``function`` holds at one call: the keywords naming no parameter."""

    call: ast.Call
    function: Function


@dataclass(frozen=True)
class ClassReference:
    """A same-file class used as a value (``Config.bias``)."""

    node: ast.ClassDef


Item = Literal | Reference | Partial | Mapping | Keywords | ClassReference | AbstractObject
Constant = frozenset[Item]
UNKNOWN_CONSTANT: Constant = frozenset({UNKNOWN})
NOTHING: Constant = frozenset()


def false_literals(value: Constant) -> list[Literal]:
    """The ``False`` literals among ``value``'s items, in source order."""
    found = [i for i in value if isinstance(i, Literal) and i.value is False]
    return sorted(found, key=lambda i: (getattr(i.site, "lineno", 0), i.default))


def only_false(value: Constant) -> bool:
    return bool(value) and all(isinstance(i, Literal) and i.value is False for i in value)


def describe(value: Constant) -> str:
    """A short text of the value for tests and hovers: ``False | True``, ``Unknown``."""
    return " | ".join(sorted(_describe(i) for i in value)) or "nothing"


def _describe(item: Item) -> str:
    if isinstance(item, Literal):
        return repr(item.value)
    if isinstance(item, Reference):
        return item.qualified
    if isinstance(item, Partial):
        keywords = ", ".join(f"{k}={describe(v)}" for k, v in item.keywords)
        return f"partial({describe(item.function)}{', ' if keywords else ''}{keywords})"
    if isinstance(item, Mapping):
        return f"dict(line {item.site.lineno})"
    if isinstance(item, Keywords):
        return f"**kwargs(line {item.call.lineno})"
    if isinstance(item, ClassReference):
        return f"class {item.node.name}"
    return getattr(item, "class_name", "") or repr(item)
