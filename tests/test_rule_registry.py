"""The registry, the docs pages and the README's rule table agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gradguard.docs import render_rule_page
from gradguard.rules import all_rules

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = {
    "GG101": "empty-parameter-list",
    "GG102": "stale-optimizer",
    "GG103": "optimizer-in-loop",
    "GG104": "reused-param-groups",
    "GG105": "optimizer-before-move",
    "GG201": "none-assigned-to-parameter",
    "GG202": "tensor-assigned-to-parameter",
    "GG203": "parameter-not-registered",
    "GG204": "misspelled-init",
    "GG301": "grad-may-be-none",
    "GG302": "leaf-rebound-by-update",
    "GG303": "non-leaf-parameter",
    "GG304": "init-on-optional-parameter",
    "GG305": "backward-on-no-grad-loss",
    "GG401": "zero-grad-after-backward",
    "GG402": "missing-zero-grad",
    "GG403": "zero-grad-every-micro-step",
    "GG501": "scheduler-before-optimizer-step",
    "GG502": "clip-before-unscale",
    "GG503": "step-bypasses-scaler",
    "GG504": "missing-scaler-update",
    "GG505": "clip-outside-backward-step",
    "GG506": "loss-accumulated-with-graph",
    "GG507": "backward-twice",
    "GG508": "eval-mode-not-restored",
}
SECTIONS = [
    "What it does",
    "Why is this bad?",
    "What PyTorch does",
    "Example",
    "Use instead",
    "Fix safety",
]


def test_every_catalogue_rule_is_registered_with_its_exact_name():
    assert {r.code: r.name for r in all_rules()} == CATALOGUE


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_doc_has_ruff_shaped_sections(rule):
    assert list(rule.sections) == SECTIONS


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_docs_page_is_up_to_date(rule):
    page = ROOT / "docs" / "rules" / f"{rule.code}.md"
    assert page.read_text(encoding="utf-8") == render_rule_page(rule), (
        "regenerate with: python -m gradguard.docs docs/rules"
    )


def test_readme_rule_table_matches_registry():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(
        r"^\| \[(GG\d{3})\]\([^)]*\) \| `([a-z-]+)` \| (\w+) \|", readme, re.MULTILINE
    )
    assert rows == [(r.code, r.name, r.severity.value) for r in all_rules()]
