"""Formats for tools: json, json-lines, junit, gitlab (code quality report)."""

from __future__ import annotations

import json
from typing import Any

from gradguard.docs import doc_url
from gradguard.findings import Severity, Span
from gradguard.output.report import FileReport, Located, fingerprints


def _range(span: Span) -> dict[str, int]:
    return {
        "line": span.start.line + 1,
        "column": span.start.column + 1,
        "end_line": span.end.line + 1,
        "end_column": span.end.column + 1,
    }


def _finding_json(report: FileReport, located: Located) -> dict[str, Any]:
    finding = located.finding

    def local(span: Span) -> dict[str, int]:
        return _range(report.local_span(span)[0])

    return {
        "path": report.path,
        "cell": int(located.cell) if located.cell else None,
        "code": finding.code,
        "name": finding.name,
        "message": finding.message,
        "severity": finding.severity.value,
        "range": _range(located.span),
        "url": doc_url(finding.code, report.docs_url),
        "related": [{"message": r.message, "range": local(r.span)} for r in finding.related],
        "fixes": [
            {
                "title": fix.title,
                "safety": fix.safety.value,
                "edits": [{"range": local(e.span), "new_text": e.new_text} for e in fix.edits],
            }
            for fix in finding.fixes
        ],
    }


def _errors_json(reports: list[FileReport]) -> list[dict[str, Any]]:
    return [
        {"path": r.path, "line": r.error_line, "column": r.error_column, "message": r.error}
        for r in reports
        if r.error
    ]


def format_json(reports: list[FileReport]) -> str:
    findings = [_finding_json(r, located) for r in reports for located in r.located()]
    return json.dumps({"findings": findings, "errors": _errors_json(reports)}, indent=2) + "\n"


def format_json_lines(reports: list[FileReport]) -> str:
    """One finding per line; a file that was not analysed is a line with ``"error"``."""
    rows = [_finding_json(r, located) for r in reports for located in r.located()]
    rows += [{"error": e["message"], **e} for e in _errors_json(reports)]
    return "".join(json.dumps(row) + "\n" for row in rows)


def format_junit(reports: list[FileReport]) -> str:
    from xml.etree import ElementTree as ET

    total = sum(len(r.findings) for r in reports)
    errors = sum(1 for r in reports if r.error)
    suites = ET.Element(
        "testsuites", name="gradguard", tests=str(max(total + errors, 1)),
        failures=str(total), errors=str(errors),
    )  # fmt: skip
    for report in reports:
        count = len(report.findings) + (1 if report.error else 0)
        suite = ET.SubElement(
            suites, "testsuite", name=report.path, tests=str(count),
            failures=str(len(report.findings)), errors="1" if report.error else "0",
        )  # fmt: skip
        if report.error:
            case = ET.SubElement(suite, "testcase", name="analysis", classname=report.path)
            ET.SubElement(case, "error", message=report.error).text = report.error
        for located in report.located():
            f = located.finding
            case = ET.SubElement(
                suite, "testcase", name=f"gradguard.{f.code}", classname=report.path,
                line=str(located.span.start.line + 1), column=str(located.span.start.column + 1),
            )  # fmt: skip
            ET.SubElement(
                case, "failure", message=f.message
            ).text = f"{located.place(report.path)}: {f.code} [{f.name}] {f.message}"
    if not total and not errors:
        suite = ET.SubElement(suites, "testsuite", name="gradguard", tests="1", failures="0")
        ET.SubElement(suite, "testcase", name="No findings", classname="gradguard")
    ET.indent(suites)
    body = ET.tostring(suites, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


_GITLAB_SEVERITY = {
    Severity.ERROR: "major",
    Severity.WARNING: "minor",
    Severity.INFORMATION: "info",
    Severity.HINT: "info",
}


def format_gitlab(reports: list[FileReport]) -> str:
    """GitLab's code quality report (a JSON list of issues)."""
    issues = []
    for report in reports:
        prints = fingerprints(report)
        for index, located in enumerate(report.located()):
            f, span = located.finding, located.span
            cell = f" (cell {located.cell})" if located.cell else ""
            issues.append(
                {
                    "type": "issue",
                    "check_name": f"{f.code} {f.name}",
                    "description": f"{f.code} {f.message}{cell}",
                    "categories": ["Bug Risk"],
                    "severity": _GITLAB_SEVERITY[f.severity],
                    "fingerprint": prints[index],
                    "location": {
                        "path": report.path,
                        "positions": {
                            "begin": {"line": span.start.line + 1, "column": span.start.column + 1},
                            "end": {"line": span.end.line + 1, "column": span.end.column + 1},
                        },
                    },
                }
            )
    return json.dumps(issues, indent=2) + "\n"
