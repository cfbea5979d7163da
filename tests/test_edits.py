import ast
import textwrap
from pathlib import Path

import pytest

from gradguard.analysis import edits, names
from gradguard.source import SourceFile, apply_edits

REPO = Path(__file__).resolve().parent.parent


def parse(code: str) -> tuple[SourceFile, ast.Module]:
    return SourceFile(code), ast.parse(code)


def move(
    code: str, index: int, *, before: int | None = None, after: int | None = None
) -> str | None:
    source, tree = parse(code)
    stmts = tree.body
    moved = edits.move_statement(
        source,
        stmts[index],
        before=stmts[before] if before is not None else None,
        after=stmts[after] if after is not None else None,
    )
    return None if moved is None else apply_edits(code, moved)


def test_move_after_keeps_comments_and_multiline_text():
    code = "a = 1\n# about b\nb = f(\n    a,  # arg\n)  # end\nc = 2\nd = 3\n"
    assert (
        move(code, 1, after=2)
        == "a = 1\nc = 2\n# about b\nb = f(\n    a,  # arg\n)  # end\nd = 3\n"
    )


def test_move_before_goes_above_the_destination_comments():
    code = "a = 1\n# about b\nb = 2\n\nc = 3\n"
    assert move(code, 2, before=1) == "a = 1\nc = 3\n# about b\nb = 2\n\n"


def test_a_blank_line_detaches_a_comment():
    code = "# header\n\nb = 2\nc = 3\n"
    assert move(code, 0, after=1) == "# header\n\nc = 3\nb = 2\n"


def test_after_a_compound_statement_skips_the_comments_that_close_its_block():
    code = "a = 1\nif x:\n    b = 2\n    # end of if\n# about c\nc = 3\n"
    assert move(code, 0, after=1) == "if x:\n    b = 2\n    # end of if\na = 1\n# about c\nc = 3\n"


def test_a_hash_line_inside_a_string_is_not_a_comment():
    code = 'a = """\n# not a comment"""\nb = 2\nc = 3\n'
    assert move(code, 1, after=2) == 'a = """\n# not a comment"""\nc = 3\nb = 2\n'


def test_last_line_without_line_break_both_ways():
    assert move("a = 1\nb = 2\nc = 3", 0, after=2) == "b = 2\nc = 3\na = 1"
    assert move("a = 1\nb = 2\nc = 3", 2, before=0) == "c = 3\na = 1\nb = 2"


def test_crlf_and_old_mac_line_endings_are_kept():
    assert move("a = 1\r\nb = 2\r\n", 0, after=1) == "b = 2\r\na = 1\r\n"
    assert move("a = 1\rb = 2\r", 0, after=1) == "b = 2\ra = 1\r"
    assert move("# a\ra = 1\rb = 2\r", 0, after=1) == "b = 2\r# a\ra = 1\r"
    assert move("x = 0\r\n# a\r\na = 1\r\nb = 2", 1, after=2) == "x = 0\r\nb = 2\r\n# a\r\na = 1"


def test_reindents_to_the_destination():
    code = "for i in x:\n\ty = g(\n\t\ti,\n\t)\nz = 1\n"
    source, tree = parse(code)
    loop, last = tree.body
    moved = edits.move_statement(source, loop.body[0], before=loop)
    assert moved is not None
    assert apply_edits(code, moved) == "y = g(\n\ti,\n)\nfor i in x:\nz = 1\n"
    moved = edits.move_statement(source, last, before=loop.body[0])
    assert moved is not None
    assert apply_edits(code, moved) == "for i in x:\n\tz = 1\n\ty = g(\n\t\ti,\n\t)\n"
    # Right after itself: nothing to move.
    assert edits.move_statement(source, last, after=loop.body[0]) is None


@pytest.mark.parametrize(
    ("code", "index", "where"),
    [
        ("a = 1; b = 2\nc = 3\n", 1, {"after": 2}),  # shares a line
        ("a = 1\nb = 2; c = 3\n", 0, {"after": 1}),  # destination shares its last line
        ("if x: a = 1\nb = 2\n", 0, {"after": 1}),  # compound one-liner is fine as a whole...
    ],
)
def test_refuses_shared_lines(code, index, where):
    source, tree = parse(code)
    stmts = tree.body
    kwargs = {k: stmts[v] for k, v in where.items()}
    result = edits.move_statement(source, stmts[index], **kwargs)
    if code.startswith("if x"):
        assert result is not None
    else:
        assert result is None


def test_refuses_one_line_block_body_and_multiline_string_reindent():
    source, tree = parse("if x: a = 1\nb = 2\n")
    assert edits.move_statement(source, tree.body[0].body[0], after=tree.body[1]) is None
    code = 'def f():\n    s = """\n    text\n    """\nb = 2\n'
    source, tree = parse(code)
    assert edits.move_statement(source, tree.body[0].body[0], after=tree.body[1]) is None


def test_refuses_moving_next_to_itself_and_requires_one_destination():
    source, tree = parse("a = 1\nb = 2\n")
    assert edits.move_statement(source, tree.body[0], before=tree.body[1]) is None
    with pytest.raises(ValueError):
        edits.move_statement(source, tree.body[0])


def test_insert_statements_after():
    code = "def f():\n\tif y:\n\t\tx = g(\n\t\t\t1)\n\treturn x"
    source, tree = parse(code)
    anchor = tree.body[0].body[0].body[0]
    edit = edits.insert_statements_after(source, anchor, ["a()", "b()"])
    assert edit is not None
    assert (
        apply_edits(code, [edit])
        == "def f():\n\tif y:\n\t\tx = g(\n\t\t\t1)\n\t\ta()\n\t\tb()\n\treturn x"
    )
    one_line = "if y: x = 1\n"
    source, tree = parse(one_line)
    assert edits.insert_statements_after(source, tree.body[0].body[0], ["a()"]) is None
    source, tree = parse("x = 1")
    edit = edits.insert_statements_after(source, tree.body[0], ["a()"])
    assert edit is not None and apply_edits("x = 1", [edit]) == "x = 1\na()"


def test_names_read_and_bound():
    stmt = ast.parse(
        textwrap.dedent("""
        for i, (j, k) in enumerate(items):
            import os.path
            with open(p) as fh:
                total += (n := len(fh.read()))
            def helper(): return hidden
    """)
    ).body[0]
    assert {"i", "j", "k", "os", "fh", "total", "n", "helper"} <= names.names_bound(stmt)
    assert "hidden" not in names.names_bound(stmt)
    assert {"enumerate", "items", "open", "p", "len", "hidden"} <= names.names_read(stmt)


@pytest.mark.parametrize(
    ("code", "dotted", "expected"),
    [
        ("optimizer.step()", "optimizer", True),
        ("optimizer = SGD()", "optimizer", False),
        ("sched = StepLR(self.opt)", "self.opt", True),
        ("self.opt.zero_grad()", "self.opt", True),
        ("self.model.fc = nn.Linear(2, 2)", "self.opt", False),
        ("self.model.to(device)", "self.opt", False),
        ("self.train_step()", "self.opt", True),
        ("helper(self)", "self.opt", True),
        ("self.opt2.step()", "self.opt", False),
    ],
)
def test_reads_dotted(code, dotted, expected):
    assert names.reads_dotted(ast.parse(code), dotted) is expected


def test_owns_its_lines_and_the_semicolon_variant():
    source, tree = parse("a = 1; b = 2\nc = 3;  # c\nif x: d = 4\n\fe = 5\n")
    a, b, c, if_x, e = tree.body
    assert not edits.owns_its_lines(source, a)
    assert not edits.owns_its_lines(source, b)
    assert not edits.owns_its_lines(source, c)
    assert edits.owns_its_lines_or_semicolon(source, c)
    assert not edits.owns_its_lines_or_semicolon(source, a)
    assert edits.owns_its_lines(source, if_x)
    assert not edits.owns_its_lines(source, if_x.body[0])
    assert not edits.owns_its_lines(source, e)  # a form feed is not indentation


@pytest.mark.parametrize(
    ("code", "path", "unit"),
    [
        ("if x:\n  a = 1\n", (0, 0), "  "),
        ("if x:\n\ta = 1\n", (0, 0), "\t"),
        ("try:\n    a = 1\nexcept E:\n    b = 2\n", (0, "handlers", 0, 0), "    "),
        ("match x:\n    case 1:\n        a = 1\n", (0, "cases", 0, 0), "    "),
        ("def f():\n  pass\nx = 1\n", (1,), "  "),
        ("x = 1\n", (0,), "    "),
    ],
)
def test_indent_unit(code, path, unit):
    source, tree = parse(code)
    node: ast.AST = tree.body[path[0]]
    rest = list(path[1:])
    while rest:
        if isinstance(rest[0], str):
            node = getattr(node, rest.pop(0))[rest.pop(0)]
        else:
            node = node.body[rest.pop(0)]
    assert edits.indent_unit(source, node) == unit


def test_removal_edit_keeps_code_valid():
    code = "a = 1; b = 2\nif c: d = 3\nfor i in x:\n    e = 4  # note\n    f = 5\n"
    source, tree = parse(code)

    def removed(stmt, block):
        edit = edits.removal_edit(source, stmt, block)
        assert edit is not None
        return apply_edits(code, [edit])

    assert removed(tree.body[1], tree.body).startswith("a = 1\nif c: d = 3\n")
    assert "if c: pass\n" in removed(tree.body[2].body[0], tree.body[2].body)
    loop = tree.body[3]
    assert removed(loop.body[0], loop.body).endswith("for i in x:\n    f = 5\n")
    assert edits.owned_removal_edit(source, loop.body[1], loop.body) is not None
    with pytest.raises(ValueError):
        edits.owned_removal_edit(source, tree.body[0], loop.body)


def test_reindented_lines_keeps_blank_and_outdented_lines():
    code = "if x:\n    y = f(\n\n  1)\n"
    source, tree = parse(code)
    assert edits.reindented_lines(source, tree.body[0].body[0], "") == "y = f(\n\n  1)\n"
    code = 'if x:\n    s = """\n    text"""\n'
    source, tree = parse(code)
    assert edits.reindented_lines(source, tree.body[0].body[0], "") is None
    assert edits.reindented_lines(source, tree.body[0].body[0], "    ") == code.split("\n", 1)[1]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("for p in ps:\n  p.grad.zero_()\n", "for p in ps:\n  if c:\n    p.grad.zero_()\n"),
        ("for p in ps:\r\n\tp.grad.zero_()", "for p in ps:\r\n\tif c:\r\n\t\tp.grad.zero_()"),
        ("p.grad.zero_()  # z\n", "if c:\n    p.grad.zero_()  # z\n"),
    ],
)
def test_wrap_in_if(code, expected):
    source, tree = parse(code)
    stmt = tree.body[0] if not isinstance(tree.body[0], ast.For) else tree.body[0].body[0]
    edit = edits.wrap_in_if(source, stmt, "c")
    assert edit is not None and apply_edits(code, [edit]) == expected


def test_wrap_in_if_refuses_bindings_and_shared_lines():
    source, tree = parse("x = 1\na.b = 1; c()\n")
    assert edits.wrap_in_if(source, tree.body[0], "c") is None
    assert edits.wrap_in_if(source, tree.body[1], "c") is None


@pytest.mark.parametrize(
    ("code", "torch", "no_grad", "nn"),
    [
        ("import torch\n", "torch", "torch.no_grad()", "torch.nn"),
        ("import torch as T\nimport torch\n", "torch", "torch.no_grad()", "torch.nn"),
        ("import torch as T\n", "T", "T.no_grad()", "T.nn"),
        ("import torch\nfrom torch.autograd import no_grad\n", "torch", "no_grad()", "torch.nn"),
        ("from torch import nn, no_grad as ng\n", None, "ng()", "nn"),
        ("import os\n", None, None, None),
    ],
)
def test_names_the_fixes_write(code, torch, no_grad, nn):
    from gradguard.analysis.facts import ModuleFacts
    from gradguard.analysis.spelling import local_name_for, no_grad_call, torch_name

    facts = ModuleFacts(SourceFile(code), ast.parse(code))
    assert torch_name(facts) == torch
    assert no_grad_call(facts) == no_grad
    assert local_name_for(facts, "torch.nn") == nn


def test_disjoint_spans_agrees_with_pairwise_overlap_checks():
    # The sorted index must answer exactly as comparing against every taken span.
    import random

    from gradguard.findings import DisjointSpans, Position, Span

    rng = random.Random(5)
    for _ in range(200):
        taken: list[Span] = []
        index = DisjointSpans()
        for _ in range(40):
            line = rng.randrange(6)
            start = Position(line, rng.randrange(8))
            end = Position(line + rng.choice((0, 0, 1)), rng.randrange(8))
            span = Span(min(start, end), max(start, end))
            expected = any(span.overlaps(t) for t in taken)
            assert index.overlaps(span) == expected
            if not expected:
                taken.append(span)
                index.add(span)


TRICKY_LAYOUT = (
    "import torch  # a comment\n"
    "x = '''\n# not a comment\n'''; y = (1,\n    # a comment in brackets\n    2)\n"
    "@decorator\n# between decorator and def\ndef f(a):\n\tif a:\n\t\treturn 1\n"
    "\t# closing comment of f\n# before class\nclass C:\n    def m(self):\n"
    "        s = f'''\n        # in an f-string\n        '''\n        return s\n"
    "if True:\n  z = 1\nelse:\n  z = 2\n# trailing comment\n"
)


@pytest.mark.parametrize(
    "text",
    [
        TRICKY_LAYOUT,
        TRICKY_LAYOUT.replace("\n", "\r\n"),
        *[p.read_text() for p in sorted((REPO / "examples").glob("*.py"))],
    ],
)
def test_layout_by_statement_matches_one_tokenizer_pass(text):
    # Fixes tokenize one top-level statement at a time; every line must read exactly
    # as when the whole file is tokenized at once.
    from gradguard.analysis.facts import ModuleFacts

    chunked = SourceFile(text)
    ModuleFacts(chunked, ast.parse(text))  # records the top-level statement lines
    assert chunked.top_level_lines
    whole = SourceFile(text)
    assert whole.top_level_lines is None
    chunked_comments, whole_comments = edits.comment_lines(chunked), edits.comment_lines(whole)
    for line in range(len(whole.lines) + 1):
        assert (line in chunked_comments) == (line in whole_comments), line
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.stmt):
            assert edits.indent_unit(chunked, node) == edits.indent_unit(whole, node), node.lineno
