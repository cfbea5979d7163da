"""Applying fixes to a whole file: pick non-overlapping fixes, re-analyse, repeat."""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

from gradguard.findings import AnalysisResult, DisjointSpans, Finding, Fix
from gradguard.source import apply_edits

MAX_PASSES = 10


@dataclass
class FixOutcome:
    text: str
    applied: int
    result: AnalysisResult  # the analysis of the final text


def choose_fix(finding: Finding, unsafe: bool) -> Fix | None:
    """The first fix of a finding that the safety level allows."""
    for fix in finding.fixes:
        if fix.is_safe or unsafe:
            return fix
    return None


def non_overlapping(findings: list[Finding], unsafe: bool) -> list[Fix]:
    """Fixes in finding order, skipping any that touch text an earlier one edits."""
    chosen: list[Fix] = []
    taken = DisjointSpans()
    for finding in findings:
        fix = choose_fix(finding, unsafe)
        if fix is None:
            continue
        if any(taken.overlaps(e.span) for e in fix.edits):
            continue
        chosen.append(fix)
        for edit in fix.edits:
            taken.add(edit.span)
    return chosen


def fix_text(
    text: str, analyse: Callable[[str], AnalysisResult], *, unsafe: bool = False
) -> FixOutcome:
    """Apply fixes until none is left (or ``MAX_PASSES``); never returns unparseable code."""
    result = analyse(text)
    applied = 0
    for _ in range(MAX_PASSES):
        fixes = non_overlapping(result.findings, unsafe)
        if not fixes:
            break
        candidate = apply_edits(text, [edit for fix in fixes for edit in fix.edits])
        if candidate == text or not _parses(candidate):
            break
        text, applied = candidate, applied + len(fixes)
        result = analyse(text)
    return FixOutcome(text, applied, result)


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True
