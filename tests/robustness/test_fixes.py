"""Fix correctness at scale: every fix of every finding on the corpus (torch
sources, examples/, the rule docs' examples and every code snippet of
tests/rules/), also with CRLF line endings and tab indentation.

For each fix: no two of its edits overlap, the result parses, the finding is
gone and nothing new appears. For each text: the fixes fix-all chooses never
overlap, and fix-all (safe and unsafe) gives parseable code and is idempotent.
"""

from __future__ import annotations

import pytest
from harness import (
    budget,
    corpus_files,
    line_ending_variants,
    read_text,
    record,
    rule_doc_samples,
    rule_test_snippets,
    verify_fixes,
)

BUDGET = budget()
DOC_SAMPLES = rule_doc_samples()
SNIPPETS = rule_test_snippets()


#: Fix problems found by this suite and reported to the rule's owner, matched by
#: (label, text in the failure). Each must still reproduce (see the last test).
def _verify(text: str, label: str, path: str = "train.py") -> int:
    stats = verify_fixes(text, label, path)
    assert not stats.failures, "\n\n".join(stats.failures)
    return stats.fixes_applied


def test_rule_doc_examples():
    applied = sum(_verify(s.text, s.name) for s in DOC_SAMPLES)
    assert applied > 0  # the docs' examples do come with fixes


def test_rule_test_snippets():
    """Every other snippet in CI, every one with a larger budget."""
    chosen = SNIPPETS[:: 1 if BUDGET > 1 else 2]
    applied = sum(_verify(s.text, s.name) for s in chosen)
    assert len(chosen) > 100
    assert applied > 50


@pytest.mark.parametrize("variant", ["crlf", "tabs"])
def test_rule_snippets_with_other_line_endings_and_indentation(variant):
    for s in DOC_SAMPLES + SNIPPETS[:: max(1, 8 // BUDGET)]:
        changed = dict(line_ending_variants(s.text))[variant]
        _verify(changed, f"{s.name} ({variant})")


def test_examples_and_torch_sources():
    """The examples and sampled torch files (all 2,000+ with GRADGUARD_FUZZ_BUDGET=full)."""
    for path in corpus_files(8 * BUDGET, "fix-files"):
        _verify(read_text(path), str(path), str(path))
        record("fix corpus files")


def test_checker_catches_a_broken_fix():
    """The verifier itself: a fix whose result does not parse is reported."""
    from dataclasses import replace
    from unittest import mock

    from gradguard import engine
    from gradguard.findings import Fix, FixSafety, Position, Span, TextEdit

    code = DOC_SAMPLES[0].text
    start = Span(Position(0, 0), Position(0, 0))
    broken = Fix("break it", FixSafety.SAFE, (TextEdit(start, "(((\n"),))
    real = engine.analyze

    def with_broken_fix(text, path="<stdin>", **kwargs):
        result = real(text, path, **kwargs)
        result.findings = [replace(f, fixes=(broken,)) for f in result.findings]
        return result

    with mock.patch("harness.analyze", with_broken_fix):
        stats = verify_fixes(code, "self-test")
    assert any("does not parse" in failure for failure in stats.failures)
