"""The engine core: positions, parsing failures, rule isolation, suppression, config."""

from __future__ import annotations

import ast
import gc
import re
from pathlib import Path

import pytest

from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.imports import ImportTable
from gradguard.config import Config, config_from_mapping
from gradguard.engine import analyze
from gradguard.findings import Finding, Fix, FixSafety, Position, Span, TextEdit
from gradguard.fixer import fix_text, non_overlapping
from gradguard.noqa import parse_suppressions
from gradguard.rules import all_rules
from gradguard.rules.base import Rule
from gradguard.source import SourceFile, apply_edits, searchable_text

MISSPELLED = "import torch.nn as nn\nclass Net(nn.Module):\n    def _init_(self):\n        pass\n"


# -- positions -----------------------------------------------------------------------


def test_ast_byte_columns_become_code_point_columns():
    source = SourceFile("s = '🔥漢字'; model.weight = None\n")
    tree = ast.parse(source.text)
    target = tree.body[1].targets[0]  # type: ignore[attr-defined]
    span = source.span_of(target)
    assert span.start == Position(0, 11)
    assert source.segment(span) == "model.weight"


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_lines_and_offsets_with_every_line_ending(newline):
    text = newline.join(["a = 1", "bb = 2", "ccc = 3"]) + newline
    source = SourceFile(text)
    assert source.lines[:3] == ["a = 1", "bb = 2", "ccc = 3"]
    offset = source.offset(Position(2, 1))
    assert text[offset] == "c" and source.position_at(offset) == Position(2, 1)
    assert source.newline == newline


def test_apply_edits_rejects_overlaps_and_keeps_order():
    text = "abcdef"
    edit = lambda a, b, t: TextEdit(Span(Position(0, a), Position(0, b)), t)  # noqa: E731
    assert apply_edits(text, [edit(4, 5, "E"), edit(0, 1, "A")]) == "AbcdEf"
    with pytest.raises(ValueError):
        apply_edits(text, [edit(0, 3, "x"), edit(2, 4, "y")])


# -- imports -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expr", "expected"),
    [
        ("import torch", "torch.optim.SGD", "torch.optim.SGD"),
        ("import torch.optim as optim", "optim.Adam", "torch.optim.Adam"),
        ("from torch import optim", "optim.Adam", "torch.optim.Adam"),
        ("from torch.optim import AdamW as W", "W", "torch.optim.AdamW"),
        ("import torch.nn as nn", "nn.Linear", "torch.nn.Linear"),
        ("from .models import Net", "Net", ".models.Net"),
        ("import torch\nOpt = torch.optim.Adam", "Opt", "torch.optim.Adam"),
        ("import torch", "unknown.SGD", None),
    ],
)
def test_import_table_qualifies_every_import_style(code, expr, expected):
    table = ImportTable(ast.parse(code))
    assert table.qualify(ast.parse(expr, mode="eval").body) == expected


def test_module_classes_are_found_through_local_inheritance():
    code = "from torch import nn\nclass A(nn.Module): pass\nclass B(A): pass\nclass C: pass\n"
    facts = ModuleFacts(SourceFile(code), ast.parse(code))
    assert {n: c.is_module for n, c in facts.classes.items()} == {"A": True, "B": True, "C": False}


# -- failures never crash ------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["def f(:\n", "x = (\n", "\x00", "if True:\n\tx = 1\n        y = 2\n", "é = 'ü'\n", ""],
)
def test_bad_input_returns_a_result(text):
    result = analyze(text, "bad.py")
    assert result.findings == [] or result.parse_error is None


def test_syntax_error_is_located():
    result = analyze("import torch\n\ndef f(:\n    pass\n", "bad.py")
    assert result.parse_error is not None
    assert result.parse_error.position.line == 2
    assert "syntax error" in result.parse_error.message


def test_deep_nesting_does_not_raise():
    text = "x = " + "(" * 300 + "1" + ")" * 300 + "\n"
    result = analyze(text, "deep.py")
    assert result.findings == []


def test_size_limit_skips_with_a_notice():
    result = analyze(MISSPELLED, "big.py", config=Config(max_file_bytes=10))
    assert result.findings == [] and "over the 10-byte limit" in result.notices[0]


def test_crashing_rule_is_isolated():
    def explode(rule, context):
        raise RuntimeError("boom")
        yield

    broken = Rule(
        "GG999",
        "broken",
        "",
        all_rules()[0].severity,
        all_rules()[0].fix_availability,
        "",
        explode,
        all_rules()[0].example_outcome,
    )
    result = analyze(MISSPELLED, "x.py", rules=[broken, *all_rules()])
    assert [f.code for f in result.findings] == ["GG204"]
    assert "internal error in rule GG999 (RuntimeError: boom)" in result.notices[0]


# -- suppression and selection ---------------------------------------------------------


def test_noqa_variants():
    text = "a  # noqa: GG101, GG204\nb  # noqa\nc  # NOQA:GG3\n# gradguard: noqa: GG402\n"
    suppressions = parse_suppressions(text)
    assert suppressions.lines == {
        0: frozenset({"GG101", "GG204"}),
        1: frozenset({"*"}),
        2: frozenset({"GG3"}),
    }
    assert suppressions.file_codes == frozenset({"GG402"})


def test_noqa_inside_a_string_is_not_a_comment():
    assert parse_suppressions("x = '# noqa'\n").lines == {}


def test_severity_override_and_selection():
    config = config_from_mapping({"severity": {"GG204": "hint"}, "ignore": ["GG3"]}, "p")
    (finding,) = analyze(MISSPELLED, "x.py", config=config).findings
    assert finding.severity.value == "hint"
    assert not config.is_enabled("GG301") and config.is_enabled("GG204")
    assert config.errors == ()


def test_per_file_ignores_match_globs():
    config = config_from_mapping({"per-file-ignores": {"tests/*.py": ["GG2"]}}, "p", "/repo")
    assert not config.is_enabled("GG204", "/repo/tests/test_x.py")
    assert config.is_enabled("GG204", "/repo/src/x.py")


# -- fixing --------------------------------------------------------------------------


def _finding(start: int, end: int, safe: bool = True) -> Finding:
    span = Span(Position(0, start), Position(0, end))
    safety = FixSafety.SAFE if safe else FixSafety.UNSAFE
    fix = Fix("f", safety, (TextEdit(span, "X"),))
    return Finding("GG204", "n", "m", span, all_rules()[0].severity, (), (fix,))


def test_non_overlapping_skips_conflicts_and_unsafe():
    chosen = non_overlapping([_finding(0, 3), _finding(2, 5), _finding(6, 7, safe=False)], False)
    assert [f.edits[0].span.start.column for f in chosen] == [0]


def test_fix_text_reaches_a_fixed_point():
    outcome = fix_text(MISSPELLED, lambda t: analyze(t, "x.py"))
    assert outcome.applied == 1 and outcome.result.findings == []
    again = fix_text(outcome.text, lambda t: analyze(t, "x.py"))
    assert again.applied == 0 and again.text == outcome.text


# -- speed invariants: text gates and no reference cycles ------------------------------


EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))


GATED = [r for r in all_rules() if r.required_text or r.required_words]


@pytest.mark.parametrize("rule", GATED, ids=lambda r: r.code)
def test_text_gate_admits_the_rules_own_example(rule):
    example = rule.code_block("Example")
    assert rule.may_apply(searchable_text(example))
    assert any(f.code == rule.code for f in analyze(example).findings)


def test_text_gate_skips_a_rule_whose_text_is_absent():
    gg303 = next(r for r in all_rules() if r.code == "GG303")
    assert not gg303.may_apply("import torch\nwith torch.no_grad():\n    y = x * 2\n")
    assert gg303.may_apply("w = torch.randn(3, requires_grad=True) * 2\n")
    assert gg303.may_apply("y = x * 2\nprint(y . grad)\n")  # odd spacing is still Python
    assert gg303.may_apply(searchable_text("y = x * 2\nprint(y.ｇｒａｄ)\n"))  # NFKC: `.grad`
    assert not gg303.may_apply("y = x * 2\nprint(y.ｇｒａｄ)\n")  # the engine normalises first


def test_gated_rules_see_identifiers_as_python_reads_them():
    # Python NFKC-normalises identifiers: this keyword *is* requires_grad.
    text = "import torch\nw = torch.randn(3, ｒｅｑｕｉｒｅｓ_ｇｒａｄ=True).to(torch.float64)\n"
    assert [f.code for f in analyze(text).findings] == ["GG303"]


def test_a_file_no_rule_applies_to_is_still_parsed():
    result = analyze("def broken(:\n")
    assert result.parse_error is not None
    assert analyze("x = 1\n").findings == []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_analysis_leaves_no_cyclic_garbage_holding_trees(path):
    # Trees must be freed by refcounting the moment an analysis ends: cycles kept
    # every tree alive until a full collection, which then cost more than parsing.
    text = path.read_text()
    analyze(text, str(path))  # warm imports and caches
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        analyze(text, str(path))
        gc.collect()
        trapped = [o for o in gc.garbage if isinstance(o, ast.AST)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert trapped == []


@pytest.mark.parametrize(
    "rule", [r for r in GATED if r.required_text_shortcuts], ids=lambda r: r.code
)
def test_text_gate_shortcuts_imply_the_pattern(rule):
    # A shortcut skips the pattern, so each must satisfy it on its own.
    for shortcut in rule.required_text_shortcuts:
        assert re.search(rule.required_text, shortcut)
        assert any(word in shortcut for word in rule.required_words)


CLASS_SHAPES = """
import torch
from torch import nn


class Outer(nn.Module):
    @decorate(lambda: self.register_parameter("in_lambda", None))
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(2, 2)
        self.register_parameter("w", nn.Parameter(torch.zeros(1)))
        f = lambda: self.register_parameter("hidden", nn.Parameter(torch.zeros(1)))
        if self.a:
            self.b: nn.Module = nn.Linear(2, 2)
        else:
            self.b = nn.ReLU()
        for i in range(2):
            self.c += 1
        try:
            self.d = nn.Linear(1, 1)
        except ValueError:
            self.d = None
        finally:
            self.e = 1

        def helper():
            self.register_parameter("nested_function", nn.Parameter(torch.zeros(1)))
            self.f = nn.Linear(3, 3)

        class Deep:
            x = 1

    class Inner(nn.Module):
        y = 2
        holder.register_parameter("direct_inner", nn.Parameter(torch.zeros(1)))

        class Deeper:
            holder.register_parameter("too_deep", nn.Parameter(torch.zeros(1)))
"""


def test_class_indexes_match_a_walk_of_the_class():
    # Members are found from statements and the call index instead of walking every
    # node of every class; the result must be exactly what the walk finds.
    from gradguard.analysis import flow
    from gradguard.analysis.facts import _is_register_parameter

    for text in [CLASS_SHAPES, *[p.read_text() for p in EXAMPLES]]:
        facts = ModuleFacts(SourceFile(text), ast.parse(text))
        for node in facts.nodes_of(ast.ClassDef):
            walked = list(flow.walk_local_class(node))
            wanted = (ast.Assign, ast.AnnAssign, ast.AugAssign)
            assert facts.class_statements(node) == [n for n in walked if isinstance(n, wanted)]
            registered = [n for n in walked if _is_register_parameter(n)]
            assert {id(c) for c in facts._registrations_in(node)} == {id(c) for c in registered}
