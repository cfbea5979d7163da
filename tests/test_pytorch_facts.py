"""Each rule's documentation claims what PyTorch does; run it under real torch.

The "Example" block must fail exactly as the rule's ``example_outcome`` says (an
exception with that type and text, or a silent failure that its check asserts),
and the "Use instead" block must run cleanly (and pass ``use_instead_check``).
"""

from __future__ import annotations

import warnings

import pytest

from gradguard.engine import analyze
from gradguard.rules import all_rules
from gradguard.rules.base import Raises, Rule

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch
RULES = all_rules()


def _run(code: str, extra: str = "") -> dict:
    namespace: dict = {"__name__": "__gradguard_example__"}
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(code, "<example>", "exec"), namespace)
        if extra:
            exec(compile(extra, "<check>", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_bad_example_behaves_as_documented(rule: Rule):
    example = rule.code_block("Example")
    assert example, f"{rule.code} has no Example code block"
    outcome = rule.example_outcome
    if isinstance(outcome, Raises):
        with pytest.raises(Exception) as raised:
            _run(example)
        assert type(raised.value).__name__ == outcome.exception
        assert outcome.message in str(raised.value)
        assert outcome.exception in rule.doc and outcome.message in rule.doc
    else:
        _run(example, outcome.check)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_use_instead_runs_cleanly(rule: Rule):
    fixed = rule.code_block("Use instead")
    assert fixed, f"{rule.code} has no 'Use instead' code block"
    _run(fixed, rule.use_instead_check)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_doc_examples_are_what_the_rule_flags(rule: Rule):
    """The documented bad example is flagged by its rule; the fixed one is not."""
    bad = analyze(rule.code_block("Example"), "example.py").findings
    good = analyze(rule.code_block("Use instead"), "example.py").findings
    assert rule.code in {f.code for f in bad}
    assert rule.code not in {f.code for f in good}
