"""Output formats of ``gradguard check``: text, json, sarif, github.

Every format prints 1-based lines and columns (columns count Unicode code points),
sorted by path, position and code, so output is stable across runs.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gradguard import __version__
from gradguard.docs import doc_url
from gradguard.findings import Finding, Severity, Span
from gradguard.rules import all_rules


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


def _fixable_mark(finding: Finding) -> str:
    return " [*]" if any(f.is_safe for f in finding.fixes) else ""


def format_text(reports: list[FileReport]) -> str:
    lines = []
    for report in reports:
        if report.error:
            lines.append(report.error)
        for f in report.findings:
            start = f.span.start
            lines.append(
                f"{report.path}:{start.line + 1}:{start.column + 1}: {f.code} [{f.name}] "
                f"{f.message}{_fixable_mark(f)}"
            )
    return "\n".join(lines) + ("\n" if lines else "")


def _range(span: Span) -> dict[str, int]:
    return {
        "line": span.start.line + 1,
        "column": span.start.column + 1,
        "end_line": span.end.line + 1,
        "end_column": span.end.column + 1,
    }


def _finding_json(path: str, finding: Finding) -> dict[str, Any]:
    return {
        "path": path,
        "code": finding.code,
        "name": finding.name,
        "message": finding.message,
        "severity": finding.severity.value,
        "range": _range(finding.span),
        "url": doc_url(finding.code),
        "related": [{"message": r.message, "range": _range(r.span)} for r in finding.related],
        "fixes": [
            {
                "title": fix.title,
                "safety": fix.safety.value,
                "edits": [{"range": _range(e.span), "new_text": e.new_text} for e in fix.edits],
            }
            for fix in finding.fixes
        ],
    }


def format_json(reports: list[FileReport]) -> str:
    findings = [_finding_json(r.path, f) for r in reports for f in r.findings]
    errors = [
        {"path": r.path, "line": r.error_line, "column": r.error_column, "message": r.error}
        for r in reports
        if r.error
    ]
    return json.dumps({"findings": findings, "errors": errors}, indent=2) + "\n"


_SARIF_LEVEL = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFORMATION: "note",
    Severity.HINT: "note",
}


def _sarif_region(span: Span) -> dict[str, int]:
    return {
        "startLine": span.start.line + 1,
        "startColumn": span.start.column + 1,
        "endLine": span.end.line + 1,
        "endColumn": span.end.column + 1,
    }


def _sarif_location(path: str, span: Span, message: str | None = None) -> dict[str, Any]:
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": {"uri": path.replace("\\", "/")},
            "region": _sarif_region(span),
        }
    }
    if message:
        location["message"] = {"text": message}
    return location


def format_sarif(reports: list[FileReport]) -> str:
    rules = list(all_rules())
    index = {rule.code: i for i, rule in enumerate(rules)}
    results = [
        {
            "ruleId": f.code,
            "ruleIndex": index.get(f.code, -1),
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": f.message},
            "locations": [_sarif_location(r.path, f.span)],
            "relatedLocations": [
                {"id": i, **_sarif_location(r.path, rel.span, rel.message)}
                for i, rel in enumerate(f.related)
            ],
        }
        for r in reports
        for f in r.findings
    ]
    notifications = [{"level": "error", "message": {"text": r.error}} for r in reports if r.error]
    run = {
        "tool": {
            "driver": {
                "name": "gradguard",
                "version": __version__,
                "informationUri": "https://github.com/gradguard/gradguard",
                "rules": [
                    {
                        "id": rule.code,
                        "name": rule.name,
                        "shortDescription": {"text": rule.summary},
                        "helpUri": doc_url(rule.code),
                        "help": {"text": rule.summary, "markdown": rule.doc},
                        "defaultConfiguration": {"level": _SARIF_LEVEL[rule.severity]},
                    }
                    for rule in rules
                ],
            }
        },
        "columnKind": "unicodeCodePoints",
        "results": results,
        "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notifications}],
    }
    sarif = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run],
    }
    return json.dumps(sarif, indent=2) + "\n"


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
    lines = []
    for report in reports:
        file = _github_escape(report.path, property_value=True)
        if report.error:
            lines.append(
                f"::error file={file},line={report.error_line},col={report.error_column}::"
                f"{_github_escape(report.error)}"
            )
        for f in report.findings:
            s, e = f.span.start, f.span.end
            title = _github_escape(f"{f.code} {f.name}", property_value=True)
            lines.append(
                f"::{_GITHUB_LEVEL[f.severity]} file={file},line={s.line + 1},col={s.column + 1},"
                f"endLine={e.line + 1},endColumn={e.column + 1},title={title}::"
                f"{_github_escape(f.message)}"
            )
    return "\n".join(lines) + ("\n" if lines else "")


FORMATTERS: dict[str, Callable[[list[FileReport]], str]] = {
    "text": format_text,
    "json": format_json,
    "sarif": format_sarif,
    "github": format_github,
}


def format_statistics(reports: list[FileReport]) -> str:
    counts = Counter(f.code for r in reports for f in r.findings)
    names = {f.code: f.name for r in reports for f in r.findings}
    fixable = {f.code for r in reports for f in r.findings if any(x.is_safe for x in f.fixes)}
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    width = max((len(str(n)) for _, n in rows), default=1)
    return "".join(
        f"{count:>{width}}\t{code}\t[{'*' if code in fixable else ' '}] {names[code]}\n"
        for code, count in rows
    )
