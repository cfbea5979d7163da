"""What the output formats print: one file's findings, located in the file or cell."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gradguard.findings import Finding, Span

if TYPE_CHECKING:  # a report holds one when its file is a notebook (unpickling imports it)
    from gradguard.notebook import JoinedCells


@dataclass(frozen=True)
class Located:
    """A finding with its span in the coordinates a user sees (cell-local in a notebook)."""

    finding: Finding
    span: Span
    cell: str | None = None  # the notebook cell number, 1-based, as text

    @property
    def fixable(self) -> bool:
        return any(f.is_safe for f in self.finding.fixes)

    def place(self, path: str) -> str:
        """``path:line:col`` or ``path:cell N:line:col`` (ruff's notebook convention)."""
        cell = f"cell {self.cell}:" if self.cell else ""
        return f"{path}:{cell}{self.span.start.line + 1}:{self.span.start.column + 1}"


@dataclass(frozen=True)
class FileReport:
    path: str
    findings: tuple[Finding, ...] = ()
    # A problem that kept the file from being analysed: "path:line:col: message".
    error: str | None = None
    error_line: int = 1
    error_column: int = 1
    #: The error is GradGuard's own (an exception, a dead worker), not the file's.
    internal: bool = False
    #: Not analysed on purpose (max-file-bytes, nesting too deep): no findings, no error.
    skipped: bool = False
    # The cell layout of a notebook (its text left out: reports travel between processes).
    notebook: JoinedCells | None = None
    # The analysed text's lines that findings start on, for code frames and fingerprints.
    source_lines: dict[int, str] | None = None
    # ``docs-url`` of the file's configuration (None: the packaged rule pages).
    docs_url: str | None = None

    def located(self) -> Iterator[Located]:
        for finding in self.findings:
            span, cell = self.local_span(finding.span)
            yield Located(finding, span, cell)

    def local_span(self, span: Span) -> tuple[Span, str | None]:
        if self.notebook is None:
            return span, None
        mapped = self.notebook.to_cell(span)
        if mapped is None:
            return span, None
        return mapped[1], mapped[0].key

    def line_text(self, line: int) -> str:
        """The analysed text's 0-based ``line`` (program coordinates)."""
        return (self.source_lines or {}).get(line, "")


def fingerprints(report: FileReport) -> dict[int, str]:
    """A stable id per finding (by index) that survives edits elsewhere in the file:
    code, path, the stripped text of the line and which occurrence of that triple it is
    (GitHub code scanning's ``partialFingerprints``, GitLab's ``fingerprint``)."""
    import hashlib

    seen: dict[str, int] = {}
    result: dict[int, str] = {}
    for index, finding in enumerate(report.findings):
        line = report.line_text(finding.span.start.line).strip()
        key = f"{finding.code}\0{report.path}\0{line}"
        seen[key] = seen.get(key, 0) + 1
        digest = hashlib.sha256(f"{key}\0{seen[key]}".encode()).hexdigest()[:32]
        result[index] = digest
    return result
