"""Findings <-> lsprotocol types, and column arithmetic between encodings.

The engine counts columns in Unicode code points (Python ``str`` indices).
LSP counts them in the negotiated ``positionEncoding``: UTF-16 code units by
default, UTF-8 bytes or UTF-32 code points when the client offers them and we
pick them (pygls chooses the client's first supported preference).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lsprotocol import types

from gradguard.docs import doc_url
from gradguard.findings import Finding, Fix, Position, Severity, Span

SOURCE = "gradguard"
UTF8 = types.PositionEncodingKind.Utf8.value
UTF16 = types.PositionEncodingKind.Utf16.value
UTF32 = types.PositionEncodingKind.Utf32.value

_SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFORMATION: types.DiagnosticSeverity.Information,
    Severity.HINT: types.DiagnosticSeverity.Hint,
}


def encoding_name(encoding: Any) -> str:
    value = getattr(encoding, "value", encoding)
    return value if value in (UTF8, UTF16, UTF32) else UTF16


def _units(char: str, encoding: str) -> int:
    if encoding == UTF32:
        return 1
    code = ord(char)
    if encoding == UTF16:
        return 2 if code > 0xFFFF else 1
    if code < 0x80:
        return 1
    if code < 0x800:
        return 2
    return 3 if code < 0x10000 else 4


def to_client_column(line: str, column: int, encoding: str) -> int:
    """Code-point column -> client units (clamped to the line)."""
    column = max(0, min(column, len(line)))
    if encoding == UTF32 or line.isascii():
        return column
    return sum(_units(c, encoding) for c in line[:column])


def from_client_column(line: str, units: int, encoding: str) -> int:
    """Client units -> code-point column (clamped; a split character rounds up)."""
    units = max(0, units)
    if encoding == UTF32 or line.isascii():
        return min(units, len(line))
    consumed = 0
    for index, char in enumerate(line):
        if consumed >= units:
            return index
        consumed += _units(char, encoding)
    return len(line)


class LineMap:
    """Converts positions of one text between code points and client units."""

    def __init__(self, lines: Sequence[str], encoding: str) -> None:
        self.lines = lines
        self.encoding = encoding

    def _line(self, line: int) -> str:
        return self.lines[line] if 0 <= line < len(self.lines) else ""

    def to_lsp(self, position: Position) -> types.Position:
        line = max(position.line, 0)
        return types.Position(
            line=line,
            character=to_client_column(self._line(line), position.column, self.encoding),
        )

    def range_to_lsp(self, span: Span) -> types.Range:
        return types.Range(start=self.to_lsp(span.start), end=self.to_lsp(span.end))

    def from_lsp(self, position: types.Position) -> Position:
        return Position(
            position.line,
            from_client_column(self._line(position.line), position.character, self.encoding),
        )


def diagnostic(
    finding: Finding,
    lines: LineMap,
    *,
    uri: str,
    version: int | None,
    span: Span | None = None,
) -> types.Diagnostic:
    """One finding as a Diagnostic in one document (related locations in the same
    document; a notebook maps them to their cells itself). ``span`` overrides the
    finding's span (a notebook cell's coordinates); ``data`` carries the document
    version and the fixes in the engine's coordinates."""
    related = [
        types.DiagnosticRelatedInformation(
            location=types.Location(uri=uri, range=lines.range_to_lsp(r.span)),
            message=r.message,
        )
        for r in finding.related
    ]
    return types.Diagnostic(
        range=lines.range_to_lsp(span or finding.span),
        message=finding.message,
        severity=_SEVERITY[finding.severity],
        code=finding.code,
        code_description=types.CodeDescription(href=doc_url(finding.code)),
        source=SOURCE,
        related_information=related or None,
        data=diagnostic_data(finding, version),
    )


def syntax_error(message: str, lines: LineMap, span: Span) -> types.Diagnostic:
    """Where a file does not parse (``gradguard.showSyntaxErrors``): no rule ran on it.
    The range covers the character the parser stopped at (editors draw nothing, or the
    whole word, for an empty range)."""
    start = span.start
    text = lines.lines[start.line] if 0 <= start.line < len(lines.lines) else ""
    end = Position(start.line, start.column + 1) if start.column < len(text) else start
    return types.Diagnostic(
        range=lines.range_to_lsp(Span(start, end)),
        message=f"{message} (GradGuard cannot check this file until it parses)",
        severity=types.DiagnosticSeverity.Error,
        source=SOURCE,
    )


def diagnostic_data(finding: Finding, version: int | None) -> dict[str, Any]:
    return {
        "version": version,
        "code": finding.code,
        "span": finding.span.to_dict(),
        "fixes": [fix.to_dict() for fix in finding.fixes],
    }


def fixes_from_data(data: Any) -> tuple[int | None, list[Fix]]:
    """(document version, fixes) from a Diagnostic's data; ([], None) if not ours."""
    if not isinstance(data, dict):
        return None, []
    try:
        version = data.get("version")
        fixes = [Fix.from_dict(f) for f in data.get("fixes", [])]
    except (KeyError, TypeError, ValueError):
        return None, []
    return (int(version) if isinstance(version, int) else None), fixes


def kind_matches(kind: str, only: Sequence[str] | None) -> bool:
    """LSP kind hierarchy: ``source.fixAll.gradguard`` matches ``source`` and ``source.fixAll``."""
    if not only:
        return True
    return any(kind == wanted or kind.startswith(wanted + ".") for wanted in only)
