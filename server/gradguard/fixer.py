"""Applying fixes to a whole file: pick non-overlapping fixes, re-analyse, repeat."""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from gradguard.findings import AnalysisResult, DisjointSpans, Finding, Fix
from gradguard.source import apply_edits

MAX_PASSES = 10
Document = TypeVar("Document")


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


@dataclass
class DocumentFixOutcome(Generic[Document]):
    document: Document
    applied: int
    result: AnalysisResult


def fix_text(
    text: str, analyse: Callable[[str], AnalysisResult], *, unsafe: bool = False
) -> FixOutcome:
    """Apply fixes until none is left (or ``MAX_PASSES``); never returns unparseable code."""
    outcome = fix_document(
        text,
        analyse,
        lambda current, fixes: apply_edits(current, [e for fix in fixes for e in fix.edits]),
        lambda current: current,
        unsafe=unsafe,
    )
    return FixOutcome(outcome.document, outcome.applied, outcome.result)


def fix_document(
    document: Document,
    analyse: Callable[[Document], AnalysisResult],
    apply: Callable[[Document, list[Fix]], Document],
    program_text: Callable[[Document], str],
    *,
    unsafe: bool = False,
) -> DocumentFixOutcome[Document]:
    """``fix_text`` for any document whose program text is ``program_text(document)``
    (a notebook's joined cells): ``apply`` places the chosen fixes, dropping any it
    cannot place."""
    result = analyse(document)
    applied = 0
    for _ in range(MAX_PASSES):
        fixes = non_overlapping(result.findings, unsafe)
        if not fixes:
            break
        candidate = apply(document, fixes)
        if candidate == document or not _parses(program_text(candidate)):
            break
        document, applied = candidate, applied + len(fixes)
        result = analyse(document)
    return DocumentFixOutcome(document, applied, result)


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True
