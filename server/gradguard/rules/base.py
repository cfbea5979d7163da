"""What a rule is: metadata, documentation, a pure check function, and the
claim its documentation makes about PyTorch (tested under real torch)."""

from __future__ import annotations

import ast
import enum
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.optimizers import OptimizerIndex
from gradguard.findings import Finding, Fix, RelatedLocation, Severity, Span
from gradguard.source import SourceFile


class FixAvailability(str, enum.Enum):
    ALWAYS = "always"
    SOMETIMES = "sometimes"
    NONE = "none"


@dataclass(frozen=True)
class Raises:
    """Running the doc's Example raises this exception whose text contains ``message``."""

    exception: str
    message: str


@dataclass(frozen=True)
class Silent:
    """The doc's Example runs without error; ``check`` (Python run in the same
    namespace afterwards) asserts the silent failure the doc describes."""

    check: str


Outcome = Raises | Silent


class RuleContext:
    """What a rule's check receives: the file's facts and shared indexes."""

    def __init__(self, facts: ModuleFacts) -> None:
        self.facts = facts

    @property
    def source(self) -> SourceFile:
        return self.facts.source

    @property
    def tree(self) -> ast.Module:
        return self.facts.tree

    @cached_property
    def optimizers(self) -> OptimizerIndex:
        return OptimizerIndex(self.facts)


CheckFunction = Callable[["Rule", RuleContext], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    summary: str
    severity: Severity
    fix_availability: FixAvailability
    doc: str
    check_function: CheckFunction
    example_outcome: Outcome
    # Python run after the "Use instead" example to show that it works (optional).
    use_instead_check: str = ""
    # A regular expression that every file this rule can report on matches: text every
    # finding's code needs (``requires_grad``, ``.grad``...). Files without a match skip
    # the rule before any tree walk. Empty: the rule always runs.
    required_text: str = ""
    # Substrings of which the file must contain one before ``required_text`` is searched
    # (a plain substring test is ten times faster than most patterns).
    required_words: tuple[str, ...] = ()
    # Substrings each of which alone satisfies ``required_text``: the common spellings,
    # found without running the pattern.
    required_text_shortcuts: tuple[str, ...] = ()

    def check(self, context: RuleContext) -> Iterable[Finding]:
        return self.check_function(self, context)

    def may_apply(self, text: str) -> bool:
        """False only when ``text`` cannot hold anything this rule reports.

        ``text`` is the file's text as Python reads identifiers: NFKC-normalised when it
        is not ASCII (a full-width ``ｇｒａｄ`` is ``grad``): ``SourceFile.searchable_text``.
        """
        if self.required_words and not any(word in text for word in self.required_words):
            return False
        if any(shortcut in text for shortcut in self.required_text_shortcuts):
            return True
        return self._required is None or bool(self._required.search(text))

    @cached_property
    def _required(self) -> re.Pattern[str] | None:
        return re.compile(self.required_text) if self.required_text else None

    def finding(
        self,
        context: RuleContext,
        where: ast.AST | Span,
        message: str,
        *,
        severity: Severity | None = None,
        related: Iterable[RelatedLocation] = (),
        fixes: Iterable[Fix] = (),
    ) -> Finding:
        span = where if isinstance(where, Span) else context.source.span_of(where)
        return Finding(
            code=self.code,
            name=self.name,
            message=message,
            span=span,
            severity=severity or self.severity,
            related=tuple(related),
            fixes=tuple(fixes),
        )

    # -- documentation ---------------------------------------------------------

    @cached_property
    def sections(self) -> dict[str, str]:
        """The doc's ``## Heading`` sections, keyed by heading."""
        sections: dict[str, str] = {}
        parts = re.split(r"^## +(.+?)\s*$", self.doc.strip(), flags=re.MULTILINE)
        for heading, body in zip(parts[1::2], parts[2::2], strict=True):
            sections[heading] = body.strip()
        return sections

    def code_block(self, section: str) -> str:
        match = re.search(r"```python\n(.*?)```", self.sections.get(section, ""), re.DOTALL)
        return match.group(1) if match else ""
