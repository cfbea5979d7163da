"""Formats for people (concise, full), GitHub annotations, statistics and the summary."""

from __future__ import annotations

import json
from collections import Counter

from gradguard.findings import Severity
from gradguard.output.report import FileReport, Located


def _fixable_mark(located: Located) -> str:
    return " [*]" if located.fixable else ""


def _headline(report: FileReport, located: Located) -> str:
    f = located.finding
    return f"{located.place(report.path)}: {f.code} [{f.name}] {f.message}{_fixable_mark(located)}"


def format_concise(reports: list[FileReport]) -> str:
    lines = []
    for report in reports:
        if report.error:
            lines.append(report.error)
        lines.extend(_headline(report, located) for located in report.located())
    return "\n".join(lines) + ("\n" if lines else "")


def format_full(reports: list[FileReport]) -> str:
    """ruff's ``full``: the headline, a frame of the line with the span underlined, the fix."""
    blocks = []
    for report in reports:
        if report.error:
            blocks.append(report.error + "\n")
        for located in report.located():
            blocks.append(_headline(report, located) + "\n" + _frame(report, located))
    return "\n".join(blocks)


def _frame(report: FileReport, located: Located) -> str:
    finding, span = located.finding, located.span
    text = report.line_text(finding.span.start.line).expandtabs(1)
    number = str(span.start.line + 1)
    gutter = " " * len(number)
    end = span.end.column if span.end.line == span.start.line else len(text)
    width = max(1, end - span.start.column)
    lines = [
        f"{gutter} |",
        f"{number} | {text}",
        f"{gutter} | {' ' * span.start.column}{'^' * width} {finding.code}",
        f"{gutter} |",
    ]
    for fix in finding.fixes:
        safety = "" if fix.is_safe else " (unsafe: --unsafe-fixes)"
        lines.append(f"{gutter} = help: {fix.title}{safety}")
    return "\n".join(lines) + "\n"


_GITHUB_LEVEL = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFORMATION: "notice",
    Severity.HINT: "notice",
}


def _github_escape(text: str, *, property_value: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def format_github(reports: list[FileReport]) -> str:
    """Workflow commands; in a notebook the cell is in the title (the lines are the cell's)."""
    lines = []
    for report in reports:
        file = _github_escape(report.path, property_value=True)
        if report.error:
            lines.append(
                f"::error file={file},line={report.error_line},col={report.error_column}::"
                f"{_github_escape(report.error)}"
            )
        for located in report.located():
            f, s, e = located.finding, located.span.start, located.span.end
            cell = f" (cell {located.cell})" if located.cell else ""
            title = _github_escape(f"{f.code} {f.name}{cell}", property_value=True)
            lines.append(
                f"::{_GITHUB_LEVEL[f.severity]} file={file},line={s.line + 1},col={s.column + 1},"
                f"endLine={e.line + 1},endColumn={e.column + 1},title={title}::"
                f"{_github_escape(f.message)}"
            )
    return "\n".join(lines) + ("\n" if lines else "")


def _statistics_rows(reports: list[FileReport]) -> list[dict]:
    counts = Counter(f.code for r in reports for f in r.findings)
    names = {f.code: f.name for r in reports for f in r.findings}
    fixable = {f.code for r in reports for f in r.findings if any(x.is_safe for x in f.fixes)}
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [
        {"code": code, "name": names[code], "count": count, "fixable": code in fixable}
        for code, count in rows
    ]


def format_statistics(reports: list[FileReport], output_format: str = "concise") -> str:
    rows = _statistics_rows(reports)
    if output_format == "json":
        return json.dumps(rows, indent=2) + "\n"
    width = max((len(str(row["count"])) for row in rows), default=1)
    lines = []
    for row in rows:
        mark = "*" if row["fixable"] else " "
        lines.append(f"{row['count']:>{width}}\t{row['code']}\t[{mark}] {row['name']}\n")
    return "".join(lines)


def summary_line(reports: list[FileReport], fixed: int = 0, *, fixing: bool = False) -> str:
    """ruff's closing line, printed to stderr for the formats meant for people."""
    if not reports:
        return "No Python files or notebooks found"
    remaining = sum(len(r.findings) for r in reports)
    errors = sum(1 for r in reports if r.error)
    skipped = sum(1 for r in reports if r.skipped)
    if not remaining and not (fixing and fixed):
        if errors:
            tail = f", {_files(skipped, 'skipped')}" if skipped else ""
            return f"No findings, but {_files(errors, 'could not be analysed')}{tail}."
        if skipped:
            return f"No findings, but {_files(skipped, 'skipped (see the notices)', was=True)}."
        return "All checks passed!"
    parts = [_files(errors, "not analysed")] if errors else []
    parts += [_files(skipped, "skipped")] if skipped else []
    unanalysed = f" ({', '.join(parts)})" if parts else ""
    if fixing and fixed:
        total = fixed + remaining
        return (
            f"Found {total} finding{'s' if total != 1 else ''} "
            f"({fixed} fixed, {remaining} remaining).{unanalysed}"
        )
    fixable = sum(1 for r in reports for located in r.located() if located.fixable)
    hint = f" ({fixable} fixable with `--fix`)" if fixable and not fixing else ""
    return f"Found {remaining} finding{'s' if remaining != 1 else ''}{hint}.{unanalysed}"


def _files(count: int, what: str, *, was: bool = False) -> str:
    """``1 file skipped``, ``2 files skipped``; with ``was``: ``1 file was skipped``."""
    verb = (" was" if count == 1 else " were") if was else ""
    return f"{count} file{'s' if count != 1 else ''}{verb} {what}"
