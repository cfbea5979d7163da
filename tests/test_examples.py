"""The bundled examples (the README's main job) show the bugs they were written with."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradguard.engine import analyze

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EXPECTED = {
    "custom_layers.py": ["GG203", "GG203", "GG204", "GG201", "GG202"],
    "finetune_classifier.py": ["GG304", "GG102", "GG105"],
    "manual_sgd.py": ["GG303", "GG301", "GG302"],
    "train_loop.py": ["GG401", "GG101", "GG103", "GG402", "GG104"],
    "amp_training.py": [
        *("GG403", "GG502", "GG501", "GG504", "GG503"),
        *("GG305", "GG507", "GG505", "GG506", "GG508"),
    ],
    "correct_training.py": [],
}


def test_every_example_is_listed():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize(("name", "codes"), sorted(EXPECTED.items()))
def test_example_findings(name, codes):
    path = EXAMPLES / name
    result = analyze(path.read_text(encoding="utf-8"), str(path))
    assert result.parse_error is None and result.notices == []
    assert [f.code for f in result.findings] == codes


NOTEBOOKS = {"training_notebook.ipynb": [("6", "GG102")]}


def test_every_notebook_is_listed():
    assert sorted(p.name for p in EXAMPLES.glob("*.ipynb")) == sorted(NOTEBOOKS)


@pytest.mark.parametrize(("name", "expected"), sorted(NOTEBOOKS.items()))
def test_notebook_findings(name, expected):
    """The cells of a course notebook, with its magics, analysed as one program."""
    from gradguard.notebook import parse_notebook

    joined = parse_notebook((EXAMPLES / name).read_text(encoding="utf-8")).joined()
    result = analyze(joined.text, name)
    assert result.parse_error is None and result.notices == []
    assert [(joined.cell_at_line(f.span.start.line).key, f.code) for f in result.findings] == (
        expected
    )


def test_examples_cover_every_rule():
    from gradguard.rules import all_rules

    covered = {code for codes in EXPECTED.values() for code in codes}
    assert covered == {rule.code for rule in all_rules()}
