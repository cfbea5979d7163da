"""Findings as plain data: what a rule reports, where, and how to fix it.

Positions are 0-based lines and 0-based columns counted in Unicode code points
(Python ``str`` indices). The CLI prints them 1-based; the LSP layer converts
columns to the negotiated position encoding (UTF-16 by default).
"""

from __future__ import annotations

import bisect
import enum
from dataclasses import dataclass, field
from typing import Any


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFORMATION = "information"
    HINT = "hint"


class FixSafety(str, enum.Enum):
    SAFE = "safe"
    UNSAFE = "unsafe"


@dataclass(frozen=True, order=True)
class Position:
    line: int
    column: int

    def to_dict(self) -> dict[str, int]:
        return {"line": self.line, "column": self.column}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Position:
        return cls(int(data["line"]), int(data["column"]))


@dataclass(frozen=True, order=True)
class Span:
    start: Position
    end: Position

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start.to_dict(), "end": self.end.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Span:
        return cls(Position.from_dict(data["start"]), Position.from_dict(data["end"]))

    def contains(self, position: Position) -> bool:
        return self.start <= position <= self.end

    def overlaps(self, other: Span) -> bool:
        """True when the spans share a character, or both insert at one point."""
        if self.start == self.end == other.start == other.end:
            return True
        return self.start < other.end and other.start < self.end


class DisjointSpans:
    """Spans that do not overlap one another, kept sorted so that asking whether a new
    span overlaps any of them looks at its neighbours only (fix-all over a file with a
    thousand fixes compared every pair)."""

    def __init__(self) -> None:
        self._spans: list[Span] = []

    def overlaps(self, span: Span) -> bool:
        spans = self._spans
        # Only the last span starting before ``span`` can reach into it from the left
        # (earlier ones end where a later one starts); then those starting inside it.
        index = max(bisect.bisect_left(spans, span.start, key=_start) - 1, 0)
        while index < len(spans) and spans[index].start <= span.end:
            if spans[index].overlaps(span):
                return True
            index += 1
        return False

    def add(self, span: Span) -> None:
        bisect.insort(self._spans, span)


def _start(span: Span) -> Position:
    return span.start


@dataclass(frozen=True)
class TextEdit:
    span: Span
    new_text: str

    def to_dict(self) -> dict[str, Any]:
        return {"span": self.span.to_dict(), "new_text": self.new_text}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextEdit:
        return cls(Span.from_dict(data["span"]), str(data["new_text"]))


@dataclass(frozen=True)
class Fix:
    title: str
    safety: FixSafety
    edits: tuple[TextEdit, ...]

    @property
    def is_safe(self) -> bool:
        return self.safety is FixSafety.SAFE

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "safety": self.safety.value,
            "edits": [edit.to_dict() for edit in self.edits],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fix:
        return cls(
            title=str(data["title"]),
            safety=FixSafety(data["safety"]),
            edits=tuple(TextEdit.from_dict(e) for e in data["edits"]),
        )


@dataclass(frozen=True)
class RelatedLocation:
    span: Span
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"span": self.span.to_dict(), "message": self.message}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RelatedLocation:
        return cls(Span.from_dict(data["span"]), str(data["message"]))


@dataclass(frozen=True)
class Finding:
    code: str
    name: str
    message: str
    span: Span
    severity: Severity
    related: tuple[RelatedLocation, ...] = ()
    fixes: tuple[Fix, ...] = ()

    @property
    def sort_key(self) -> tuple[Position, Position, str, str]:
        return (self.span.start, self.span.end, self.code, self.message)

    def with_severity(self, severity: Severity) -> Finding:
        return Finding(
            self.code, self.name, self.message, self.span, severity, self.related, self.fixes
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "message": self.message,
            "span": self.span.to_dict(),
            "severity": self.severity.value,
            "related": [r.to_dict() for r in self.related],
            "fixes": [f.to_dict() for f in self.fixes],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(
            code=str(data["code"]),
            name=str(data["name"]),
            message=str(data["message"]),
            span=Span.from_dict(data["span"]),
            severity=Severity(data["severity"]),
            related=tuple(RelatedLocation.from_dict(r) for r in data.get("related", ())),
            fixes=tuple(Fix.from_dict(f) for f in data.get("fixes", ())),
        )


@dataclass(frozen=True)
class ParseError:
    """The file could not be parsed; reported instead of findings."""

    message: str
    position: Position

    def to_dict(self) -> dict[str, Any]:
        return {"message": self.message, "position": self.position.to_dict()}


@dataclass
class AnalysisResult:
    findings: list[Finding] = field(default_factory=list)
    parse_error: ParseError | None = None
    # Messages about the analysis itself (a rule that crashed, a file skipped for size).
    notices: list[str] = field(default_factory=list)
    # Not analysed on purpose (over max-file-bytes, nested too deeply); a notice says why.
    skipped: bool = False
