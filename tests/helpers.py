"""Shared test helpers: analyse snippets and verify fixes by applying them."""

from __future__ import annotations

import ast
import textwrap
from collections import Counter

from gradguard.config import Config
from gradguard.engine import analyze
from gradguard.findings import Finding, Fix
from gradguard.source import apply_edits


def findings(code: str, *, select: str | None = None, path: str = "train.py") -> list[Finding]:
    config = Config(select=(select,)) if select else Config()
    result = analyze(textwrap.dedent(code), path, config=config)
    assert result.parse_error is None, result.parse_error
    assert not result.notices, result.notices
    return result.findings


def codes(code: str) -> list[str]:
    return [f.code for f in findings(code)]


def only(code: str, rule_code: str) -> list[Finding]:
    return [f for f in findings(code) if f.code == rule_code]


def lines_of(code: str, rule_code: str) -> list[int]:
    """1-based lines of a rule's findings."""
    return [f.span.start.line + 1 for f in only(code, rule_code)]


def apply_fix(code: str, fix: Fix) -> str:
    return apply_edits(textwrap.dedent(code), fix.edits)


def assert_fix_repairs(code: str, finding: Finding, fix: Fix) -> str:
    """Apply ``fix``; the result parses, the finding's rule reports fewer
    findings and no rule reports more. Returns the fixed text."""
    before = Counter(f.code for f in findings(code))
    fixed = apply_fix(code, fix)
    ast.parse(fixed)
    after_findings = findings(fixed)
    after = Counter(f.code for f in after_findings)
    assert after[finding.code] < before[finding.code], (fixed, after_findings)
    for rule_code, count in after.items():
        assert count <= before[rule_code], (rule_code, fixed, after_findings)
    return fixed


def assert_all_fixes_repair(code: str, rule_code: str) -> list[str]:
    """Every fix of every ``rule_code`` finding repairs the code; returns fixed texts."""
    results = []
    targets = only(code, rule_code)
    assert targets, f"expected a {rule_code} finding"
    for finding in targets:
        for fix in finding.fixes:
            results.append(assert_fix_repairs(code, finding, fix))
    return results
