"""Fuzzing the engine: whatever text comes in, ``analyze`` returns in time, never
raises and never reports an internal error.

Inputs: hypothesis-generated text and token soup, and mutations of real PyTorch
sources (the installed torch package, examples/, the rule docs and the rule
tests' snippets): truncation at every line, deletions, insertions, unbalanced
brackets, tabs, CR/CRLF/mixed line endings, non-ASCII identifiers, emoji and
wide characters, very long lines, very deep nesting, empty files. Bytes that are
not UTF-8 go through ``gradguard.files.decode`` and the CLI.
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading

import pytest
from harness import (
    _SNIPPETS,
    EngineFailure,
    budget,
    check_engine,
    corpus_files,
    example_files,
    mutants,
    read_text,
    record,
    rule_doc_samples,
    rule_test_snippets,
    sample,
    torch_files,
    truncate,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradguard import files
from gradguard.config import Config

BUDGET = budget()
FUZZ_SETTINGS = settings(
    max_examples=60 * BUDGET,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SEEDS = [s.text for s in rule_doc_samples()] + [s.text for s in rule_test_snippets()]
EXAMPLE_TEXTS = [read_text(p) for p in example_files()]

_TOKENS = [
    *_SNIPPETS,
    "torch",
    "nn.Module",
    "nn.Linear(4, 2)",
    "self.fc",
    "model.weight",
    "for step in range(3):",
    "with torch.no_grad():",
    "    ",
    "\n    ",
    "\n        ",
    "x",
    "0.1",
    "lr=",
    "params",
    "requires_grad=True",
    "w = w - lr * w.grad",
    "__init__",
    "_init_",
    "global ",
    "del ",
    "try:",
    "except:",
    "match x:",
    "case _:",
]


@FUZZ_SETTINGS
@given(st.text(alphabet=st.characters(codec=None), max_size=400))
def test_arbitrary_text(text):
    check_engine(text, repr(text[:200]))


@FUZZ_SETTINGS
@given(st.lists(st.sampled_from(_TOKENS), max_size=80))
def test_token_soup(tokens):
    text = "import torch\nfrom torch import nn\n" + "".join(tokens)
    check_engine(text, repr(text[:300]))


@settings(FUZZ_SETTINGS, max_examples=25 * BUDGET)
@given(st.sampled_from(SEEDS + EXAMPLE_TEXTS), st.randoms(use_true_random=False))
def test_mutated_pytorch_code(seed, rng):
    for name, text in mutants(seed, rng, 3):
        check_engine(text, f"{name} of {seed[:80]!r}")


def test_truncation_at_every_line_of_the_examples():
    for text in EXAMPLE_TEXTS:
        lines = text.count("\n") + 1
        for line in range(lines + 1):
            check_engine(truncate(text, line), f"example truncated at line {line}")


def test_truncation_of_torch_sources():
    """Each torch file is cut at sampled lines (every line with a full budget)."""
    torch = torch_files()
    if not torch:
        pytest.skip("torch is not installed")
    rng = random.Random("truncate")
    for path in sample(torch, 4 * BUDGET, "truncate-files"):
        text = read_text(path)
        lines = list(range(text.count("\n") + 1))
        for line in sample(lines, 6 * BUDGET, rng.random()):
            check_engine(truncate(text, line), f"{path} truncated at line {line}", str(path))


def test_mutations_of_torch_sources():
    rng = random.Random("mutate")
    for path in corpus_files(3 * BUDGET, "mutate-files"):
        text = read_text(path)
        check_engine(text, str(path), str(path))
        for name, mutated in mutants(text, rng, 2 * BUDGET):
            check_engine(mutated, f"{name} of {path}", str(path))


# Sizes: CI runs a 20,000-deep or 200 kB version of each; a larger budget the full size.
N = 20_000 if BUDGET == 1 else 100_000

DEEP = {
    "attribute chain": "x = a" + ".b" * N,
    "call chain": "x = f" + "()" * N,
    "subscript chain": "x = a" + "[0]" * N,
    "binary operators": "x = " + " + ".join(["a"] * N),
    "boolean operators": "x = " + " and ".join(["a"] * N),
    "comparisons": "x = " + " < ".join(["a"] * N),
    "parentheses": "x = " + "(" * 5_000 + "1" + ")" * 5_000,
    "unary minus": "x = " + "-" * N + "1",
    "lambdas": "x = " + "lambda: " * 5_000 + "1",
    "conditional expressions": "x = " + "a if b else " * N + "c",
    "nested blocks": "".join("    " * i + "if x:\n" for i in range(99)) + "    " * 99 + "pass\n",
    "too deep blocks": "".join(" " * i + "if x:\n" for i in range(120)) + " " * 120 + "pass\n",
    "nested lists": "x = " + "[" * 190 + "]" * 190,
    "nested functions": "".join(
        "    " * i + f"def f{i}(model=nn.Linear(1, 1)):\n" for i in range(98)
    )
    + "    " * 98
    + "optimizer = torch.optim.SGD(model.parameters())\n",
    "string concatenation": "x = " + " ".join(['"a"'] * N),
    # Was quadratic in GG301 (one finding and fix per `.grad` link): 4,000 links took 106 s.
    "grad chain on a parameter": "import torch\nmodel = torch.nn.Linear(1, 1)\nmodel.weight"
    + ".grad" * (N // 10)
    + " = None\n",
    # Was quadratic in GG304 (an ``ast.dump`` of the rest of the chain per call): 4,000
    # calls took 52 s. The layer makes GG304 run (its text gate wants `.weight`/`.bias`).
    "call chain beside a layer": "import torch\nlayer = torch.nn.Linear(1, 1)\n"
    "layer.weight.data.zero_()\nx = f" + "()" * 4_000 + "\n",
}

LONG = {
    "long line of code": "x = [" + "1, " * (N * 3) + "]\n",
    "long string": "x = '" + "🔥" * (N * 10) + "'\n",
    "long comment": "# " + "é" * (N * 20) + "\n",
    "many lines": "import torch\n" + "x = 1\n" * N,
    "many statements on one line": "x = 1; " * N + "\n",
}

EMPTY = {
    "empty": "",
    "newline": "\n",
    "CR": "\r",
    "CRLF": "\r\n",
    "spaces": "   ",
    "tabs": "\t\t\n\t",
    "BOM": "\ufeff",
    "BOM and code": "\ufeffimport torch\n",
    "form feed": "\x0c\n",
    "null byte": "x = 1\x00\n",
    "lone surrogate": "x = '\ud800'\n",
    "surrogate identifier": "\ud800 = 1\n",
    "only a comment": "# noqa",
    "only noqa for the file": "# gradguard: noqa\n",
    "backslash at end": "x = 1 \\",
    "unterminated string": "x = '''",
}


@pytest.mark.parametrize("name", sorted(DEEP))
def test_deep_nesting(name):
    check_engine(DEEP[name], name)


@pytest.mark.parametrize("name", sorted(LONG))
def test_long_inputs(name):
    check_engine(LONG[name], name, config=Config(max_file_bytes=100_000_000))


@pytest.mark.parametrize("name", sorted(EMPTY))
def test_empty_and_degenerate_files(name):
    result = check_engine(EMPTY[name], name)
    assert not result.findings


def test_deep_nesting_on_a_worker_thread():
    """The server analyses on worker threads, whose C stack can be smaller."""
    failures: list[BaseException] = []

    def work() -> None:
        for name in ("attribute chain", "call chain", "binary operators", "lambdas"):
            text = DEEP[name]
            try:
                check_engine(text, f"{name} (thread)")
            except BaseException as error:
                failures.append(error)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=300)
    assert not thread.is_alive()
    assert not failures, failures


def test_parse_failures_are_described():
    """A parser that gives up (MemoryError/RecursionError without a message) still says why."""
    for name in ("unary minus", "lambdas", "conditional expressions", "binary operators"):
        result = check_engine(DEEP[name], name)
        if result.parse_error is not None:
            message = result.parse_error.message
            assert message.split(":", 1)[1].strip(), (name, message)


# -- bytes: decoding and the CLI ------------------------------------------------------------


BAD_BYTES = {
    "latin-1 without a cookie": b"# caf\xe9\nimport torch\n",
    "invalid UTF-8 in a string": b"x = '\xff\xfe'\n",
    "truncated UTF-8 sequence": b"x = '\xe2\x82'\n",
    "unknown coding cookie": b"# -*- coding: klingon -*-\nx = 1\n",
    "BOM and latin-1 cookie": b"\xef\xbb\xbf# coding: latin-1\nx = 1\n",
    "UTF-16 without a BOM": "x = 1\n".encode("utf-16-le"),
    "null bytes": b"x = 1\x00\x00\n",
    "surrogate encoded in UTF-8": b"x = '\xed\xa0\x80'\n",
}

GOOD_BYTES = {
    "latin-1 with a cookie": "# coding: latin-1\nx = 'café'\n".encode("latin-1"),
    "UTF-8 with a BOM": b"\xef\xbb\xbfimport torch\n",
    "cp1252 cookie": "# -*- coding: cp1252 -*-\nx = '€'\n".encode("cp1252"),
    "CRLF": b"import torch\r\nx = 1\r\n",
}


@FUZZ_SETTINGS
@given(st.binary(max_size=300))
def test_arbitrary_bytes_decode_or_are_refused(data):
    try:
        source = files.decode(data, "fuzz.py")
    except files.UnreadableFile as error:
        assert str(error).startswith("fuzz.py:")
        record("byte inputs refused with a message")
        return
    check_engine(source.text, repr(data[:100]))


@pytest.mark.parametrize("name", sorted(BAD_BYTES))
def test_undecodable_bytes_are_refused_with_a_position(name):
    data = BAD_BYTES[name]
    try:
        source = files.decode(data, "bad.py")
    except files.UnreadableFile as error:
        assert str(error).startswith("bad.py:")
        return
    check_engine(source.text, name)  # decodable after all (e.g. null bytes): still safe


def test_cli_survives_bad_files(tmp_path):
    for index, data in enumerate([*BAD_BYTES.values(), *GOOD_BYTES.values()]):
        (tmp_path / f"f{index}.py").write_bytes(data)
    (tmp_path / "deep.py").write_text("x = " + "-" * 100_000 + "1", encoding="utf-8")
    (tmp_path / "empty.py").write_text("")
    proc = subprocess.run(
        [sys.executable, "-m", "gradguard", "check", "--no-resolve", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    record("engine inputs", len(BAD_BYTES) + len(GOOD_BYTES) + 2)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert "internal error" not in proc.stderr
    out = proc.stdout
    assert "f0.py:1:6: cannot decode byte 0xe9 as utf-8; file skipped" in out  # latin-1
    assert "f3.py:1:1: cannot read: unknown encoding: klingon" in out
    assert "deep.py:1:1: cannot parse:" in out
    for index in range(len(BAD_BYTES)):
        assert f"f{index}.py:" in out
    for index in range(len(BAD_BYTES), len(BAD_BYTES) + len(GOOD_BYTES)):
        assert f"f{index}.py:" not in out


def test_engine_failure_is_reported_not_swallowed():
    """The checker itself: a failing analysis is an assertion error with the input."""
    from unittest import mock

    with (
        mock.patch("harness.analyze", side_effect=RuntimeError("boom")),
        pytest.raises(EngineFailure, match="boom"),
    ):
        check_engine("x = 1\n", "self-test")


def test_grad_chain_is_reported_once_and_fast():
    """Regression: GG301 reported every `.grad` link of `w.grad.grad...` with a fix
    that walked the statement (quadratic: 4,000 links took 106 s)."""
    import time

    text = "import torch\nmodel = torch.nn.Linear(1, 1)\nmodel.weight" + ".grad" * 2_000
    started = time.monotonic()
    result = check_engine(text + " = None\n", "grad chain")
    assert time.monotonic() - started < 10
    assert [f.code for f in result.findings] == ["GG301"]
