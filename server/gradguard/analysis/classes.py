"""The file's classes, and what each is (an ``nn.Module``, an ``Optimizer``) only when a
rule asks.

Whether ``class Block(Attention)`` is a module may need jedi (``Attention`` comes from
another file), and so may each ``self.attn = Attention(...)`` of its members. Those
questions cost 3-20 ms each (0.5-1 s the first), so none is asked while the file is
indexed: :class:`ClassInfo` answers ``is_module``, ``is_optimizer``, ``parameters`` and
``submodules`` on first read, and a submodule lookup judges only that attribute's
calls (demand-driven resolution, docs/semantic-model.md).

The answers are the ones an eager pass gives: a class is a module when a chain of
same-file bases reaches a base that is one (the least fixed point of "a class is a
module when one of its bases is"), and ``submodules[attr]`` is the first call assigned
to ``self.attr`` in the class that builds a module.
"""

from __future__ import annotations

import ast
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gradguard.analysis.facts import ModuleFacts


@dataclass(eq=False)
class ClassInfo:
    node: ast.ClassDef
    base_names: list[str]
    #: The facts of the file (a weak reference: facts hold their classes, and a cycle
    #: would keep every tree alive until a full garbage collection).
    owner: weakref.ReferenceType[ModuleFacts] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def methods(self) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
        return {
            stmt.name: stmt
            for stmt in self.node.body
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef))
        }

    def _facts(self) -> ModuleFacts | None:
        return self.owner() if self.owner is not None else None

    # Memoised in ``__dict__`` under the names ``derivation_asks`` reads; while the
    # editor records reads, each use brings what the answer read (the same-file bases).
    @property
    def is_module(self) -> bool:
        return self._judged("is_module", lambda facts: facts.derives_from_module(self), False)

    @property
    def is_optimizer(self) -> bool:
        return self._judged("is_optimizer", lambda facts: facts.derives_from_optimizer(self), False)

    @property
    def _members(self) -> tuple[set[str], dict[str, list[ast.Call]]]:
        def members(facts: ModuleFacts) -> tuple[set[str], dict[str, list[ast.Call]]]:
            return facts.class_members(self) if self.is_module else (set(), {})

        return self._judged("_members", members, (set(), {}))

    def _judged(self, name: str, judge: Callable[[ModuleFacts], Any], orphan: Any) -> Any:
        facts = self._facts()
        if facts is None:
            return orphan
        from gradguard.analysis.memo import memoised

        return memoised(facts, self.__dict__, name, lambda: judge(facts))

    @property
    def parameters(self) -> set[str]:
        """Attributes registered as Parameters (``nn.Parameter`` or ``register_parameter``)."""
        return self._members[0]

    @cached_property
    def submodules(self) -> Mapping[str, ast.Call]:
        """``self.<attr> = <module constructor call>``, first such assignment in the class."""
        facts = self._facts()
        if facts is None:
            return {}
        return Submodules(self._members[1], weakref.WeakMethod(facts.is_module_call))


class Submodules(Mapping[str, ast.Call]):
    """``attr -> call`` for the attributes assigned a module-building call; each
    attribute's calls are judged (maybe by jedi) when that attribute is looked up."""

    def __init__(
        self,
        candidates: dict[str, list[ast.Call]],
        is_module_call: weakref.WeakMethod[Callable[[ast.Call], bool]],
    ) -> None:
        self._candidates = candidates
        self._is_module_call = is_module_call
        self._judged: dict[str, ast.Call | None] = {}

    def _judge(self, attr: str) -> ast.Call | None:
        judge = self._is_module_call()
        if judge is None:
            return self._judged.get(attr)
        calls = self._candidates.get(attr, ())
        from gradguard.analysis.memo import memoised

        return memoised(
            judge.__self__,  # type: ignore[attr-defined]
            self._judged,
            attr,
            lambda: next((c for c in calls if judge(c)), None),
        )

    def __getitem__(self, attr: str) -> ast.Call:
        found = self._judge(attr) if isinstance(attr, str) else None
        if found is None:
            raise KeyError(attr)
        return found

    def __contains__(self, attr: object) -> bool:
        return isinstance(attr, str) and self._judge(attr) is not None

    def __iter__(self) -> Iterator[str]:
        return (attr for attr in self._candidates if self._judge(attr) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def derives(
    info: ClassInfo,
    classes: Mapping[str, ClassInfo],
    is_kind_of_base: Callable[[str], bool],
) -> bool:
    """Whether a chain of same-file bases from ``info`` reaches a base outside the file
    for which ``is_kind_of_base`` holds (asked in breadth-first order, stopping at the
    first that does)."""
    seen = {info.name}
    queue = [info]
    for current in queue:
        for base in current.base_names:
            if base in classes:
                if base not in seen:
                    seen.add(base)
                    queue.append(classes[base])
            elif is_kind_of_base(base):
                return True
    return False


def derivation_asks(
    info: ClassInfo,
    classes: Mapping[str, ClassInfo],
    needs_answer: Callable[[str], bool],
) -> bool:
    """Whether judging ``info`` (module or optimizer) may ask about a base outside the
    file: one on a chain of same-file bases for which ``needs_answer`` holds, while
    the class is not judged yet."""
    judged = info.__dict__
    if judged.get("is_module") is True or ("is_module" in judged and "is_optimizer" in judged):
        return False  # callee_kind reads is_module first
    return derives(info, classes, needs_answer)
