"""SARIF 2.1.0 (validated against the OASIS schema in the tests).

Relative paths are percent-encoded URI references resolved against ``%SRCROOT%``
(the working directory, in ``originalUriBaseIds``); absolute paths are ``file://``
URIs. ``partialFingerprints`` let GitHub code scanning follow a finding across
commits; findings with fixes carry them as SARIF ``fixes``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from gradguard import __version__
from gradguard.docs import doc_url, docs_home
from gradguard.findings import Severity, Span
from gradguard.output.report import FileReport, Located, fingerprints

_LEVEL = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFORMATION: "note",
    Severity.HINT: "note",
}
SRCROOT = "%SRCROOT%"


def artifact_location(path: str) -> dict[str, str]:
    posix = path.replace("\\", "/")
    if os.path.isabs(path):
        return {"uri": Path(path).as_uri()}
    return {"uri": quote(str(PurePosixPath(posix)), safe="/"), "uriBaseId": SRCROOT}


def _region(span: Span) -> dict[str, int]:
    return {
        "startLine": span.start.line + 1,
        "startColumn": span.start.column + 1,
        "endLine": span.end.line + 1,
        "endColumn": span.end.column + 1,
    }


def _location(report: FileReport, span: Span, message: str | None = None) -> dict[str, Any]:
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": artifact_location(report.path),
            "region": _region(report.local_span(span)[0]),
        }
    }
    if message:
        location["message"] = {"text": message}
    return location


def _result(report: FileReport, located: Located, index: int, fingerprint: str) -> dict[str, Any]:
    f = located.finding
    cell = f" (cell {located.cell})" if located.cell else ""
    result: dict[str, Any] = {
        "ruleId": f.code,
        "ruleIndex": index,
        "level": _LEVEL[f.severity],
        "message": {"text": f.message + cell},
        "locations": [_location(report, f.span)],
        "partialFingerprints": {"gradguardFindingHash/v1": fingerprint},
    }
    if f.related:
        result["relatedLocations"] = [
            {"id": i, **_location(report, rel.span, rel.message)} for i, rel in enumerate(f.related)
        ]
    if located.cell:
        result["properties"] = {"cell": int(located.cell)}
    if f.fixes:
        result["fixes"] = [
            {
                "description": {"text": fix.title + ("" if fix.is_safe else " (unsafe)")},
                "artifactChanges": [
                    {
                        "artifactLocation": artifact_location(report.path),
                        "replacements": [
                            {
                                "deletedRegion": _region(report.local_span(edit.span)[0]),
                                "insertedContent": {"text": edit.new_text},
                            }
                            for edit in fix.edits
                        ],
                    }
                ],
            }
            for fix in f.fixes
        ]
    return result


def format_sarif(reports: list[FileReport]) -> str:
    from gradguard.rules import all_rules  # the rule table: SARIF lists every rule

    rules = list(all_rules())
    index = {rule.code: i for i, rule in enumerate(rules)}
    results = []
    for report in reports:
        prints = fingerprints(report)
        for number, located in enumerate(report.located()):
            code = located.finding.code
            results.append(_result(report, located, index.get(code, -1), prints[number]))
    notifications = [
        {
            "level": "error",
            "message": {"text": r.error},
            "locations": [_location(report=r, span=_error_span(r))],
        }
        for r in reports
        if r.error
    ]
    run = {
        # One run, one rule table: the docs-url of the files' configuration (they share one).
        "tool": {"driver": _driver(rules, next((r.docs_url for r in reports if r.docs_url), None))},
        "originalUriBaseIds": {SRCROOT: {"uri": Path.cwd().as_uri() + "/"}},
        "columnKind": "unicodeCodePoints",
        "results": results,
        "invocations": [
            {
                # False when GradGuard failed on a file (an internal error), not for findings.
                "executionSuccessful": not any(r.internal for r in reports),
                "toolExecutionNotifications": notifications,
            }
        ],
    }
    sarif = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run],
    }
    return json.dumps(sarif, indent=2) + "\n"


def _error_span(report: FileReport) -> Span:
    from gradguard.findings import Position

    start = Position(report.error_line - 1, report.error_column - 1)
    return Span(start, start)


def _driver(rules: list, docs_url: str | None) -> dict[str, Any]:
    return {
        "name": "gradguard",
        "version": __version__,
        "informationUri": docs_home(docs_url),
        "rules": [
            {
                "id": rule.code,
                "name": rule.name,
                "shortDescription": {"text": rule.summary},
                "helpUri": doc_url(rule.code, docs_url),
                "help": {"text": rule.summary, "markdown": rule.doc},
                "defaultConfiguration": {"level": _LEVEL[rule.severity]},
            }
            for rule in rules
        ],
    }
