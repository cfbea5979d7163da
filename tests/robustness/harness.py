"""Corpus, mutations, budget and counters shared by the robustness tests and
``python -m tests.robustness.report``.

The budget is an integer scale read from ``GRADGUARD_FUZZ_BUDGET`` (default 1,
what CI runs). Every campaign sizes itself from it: hypothesis examples, corpus
files sampled, mutations per file. ``GRADGUARD_FUZZ_BUDGET=50`` is a long run
by hand; ``full`` (or any budget >= 100) also visits every file of the corpus.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import random
import re
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gradguard.engine import analyze
from gradguard.findings import AnalysisResult, Finding, Fix
from gradguard.fixer import fix_text, non_overlapping
from gradguard.rules import all_rules
from gradguard.source import apply_edits

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
RULE_TESTS = REPO / "tests" / "rules"

#: An analysis must come back within this many seconds (generous: CI runners are slow,
#: and the largest torch files take about half a second on a developer machine).
TIME_BOUND = 20.0


def budget() -> int:
    raw = os.environ.get("GRADGUARD_FUZZ_BUDGET", "1").strip().lower()
    if raw == "full":
        return 100
    try:
        return max(1, int(raw))
    except ValueError:
        return 1


def full_corpus() -> bool:
    return budget() >= 100


def sample(items: list, n: int, seed: int | str = 0) -> list:
    """``n`` items chosen deterministically (all of them when ``n`` is large)."""
    if n >= len(items):
        return list(items)
    return random.Random(str(seed)).sample(items, n)


# -- counters (collected by conftest, printed by report.py) ---------------------------

_counts: Counter[str] = Counter()
_counts_lock = threading.Lock()


def record(name: str, n: int = 1) -> None:
    with _counts_lock:
        _counts[name] += n


def counts() -> dict[str, int]:
    with _counts_lock:
        return dict(_counts)


def dump_counts(path: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(counts()) + "\n")


# -- the corpus -------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    name: str
    text: str


def torch_root() -> Path | None:
    spec = importlib.util.find_spec("torch")  # finds it without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def torch_files() -> list[Path]:
    root = torch_root()
    return sorted(root.rglob("*.py")) if root else []


def example_files() -> list[Path]:
    return sorted(EXAMPLES.glob("*.py"))


def read_text(path: Path) -> str:
    from gradguard.files import read

    return read(path).text


def rule_doc_samples() -> list[Sample]:
    out = []
    for rule in all_rules():
        for section in ("Example", "Use instead"):
            code = rule.code_block(section)
            if code.strip():
                out.append(Sample(f"{rule.code} doc: {section}", code))
    return out


def rule_test_snippets() -> list[Sample]:
    """Every multi-line string literal of tests/rules/*.py that parses as Python."""
    out = []
    for path in sorted(RULE_TESTS.glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        seen = set()
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            code = textwrap.dedent(node.value)
            if "\n" not in code.strip() or code in seen or not parses(code):
                continue
            seen.add(code)
            out.append(Sample(f"{path.name}:{node.lineno}", code))
    return out


def corpus_files(n_torch: int, seed: str = "corpus") -> list[Path]:
    """The examples and ``n_torch`` torch sources (every one with a full budget)."""
    torch = torch_files()
    chosen = torch if full_corpus() else sample(torch, n_torch, seed)
    return example_files() + sorted(chosen)


def parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


# -- mutations ----------------------------------------------------------------------------

_SNIPPETS = [
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ":",
    "\n",
    "\t",
    "\r\n",
    "\r",
    " ",
    "'",
    '"',
    '"""',
    "\\",
    "#",
    "lambda",
    "def ",
    "class ",
    "async ",
    "await ",
    "yield",
    "return",
    "import ",
    "from . import ",
    "@",
    "=",
    ".",
    ",",
    "*",
    "**",
    "not ",
    " if ",
    "else",
    "optimizer",
    "model",
    ".grad",
    ".zero_()",
    "None",
    "torch.optim.SGD(",
    "nn.Parameter(",
    "super().__init__()",
    ".parameters()",
    "loss.backward()",
    "optimizer.step()",
    "zero_grad()",
    "= None",
    "# noqa",
    "# noqa: GG201",
    "# gradguard: noqa",
    "模型",
    "модель",
    "ß",
    "𝔣",
    "🔥",
    "👩\u200d💻",
    "\u200b",
    "\ufeff",
    "\x00",
    "\x0c",
    "\u2028",
    "\ud800",
    "é",
    "e\u0301",
    "Ｗ",
    "ｘ",
]

_RENAMES = {
    "model": "模型",
    "optimizer": "оптимизатор",
    "self": "self",
    "loss": "ñloss",
    "x": "ẋ",
    "weight": "wéight",
    "net": "𝔫𝔢𝔱",
}


def truncate(text: str, line: int) -> str:
    lines = text.splitlines(keepends=True)
    return "".join(lines[:line])


def truncate_mid_line(text: str, rng: random.Random) -> str:
    return text[: rng.randrange(len(text) + 1)]


def delete_span(text: str, rng: random.Random) -> str:
    if not text:
        return text
    start = rng.randrange(len(text))
    return text[:start] + text[start + rng.randint(1, 40) :]


def insert_snippet(text: str, rng: random.Random) -> str:
    at = rng.randrange(len(text) + 1)
    return text[:at] + rng.choice(_SNIPPETS) + text[at:]


def unbalance(text: str, rng: random.Random) -> str:
    brackets = [i for i, c in enumerate(text) if c in "()[]{}"]
    if brackets and rng.random() < 0.5:
        at = rng.choice(brackets)
        return text[:at] + text[at + 1 :]
    at = rng.randrange(len(text) + 1)
    return text[:at] + rng.choice("([{)]}") + text[at:]


def tabs(text: str, rng: random.Random) -> str:
    out = []
    for line in text.splitlines(keepends=True):
        stripped = line.lstrip(" ")
        depth = (len(line) - len(stripped)) // 4
        if depth and rng.random() < 0.7:
            line = "\t" * depth + " " * ((len(line) - len(stripped)) % 4) + stripped
        out.append(line)
    return "".join(out)


def line_endings(text: str, rng: random.Random) -> str:
    ending = rng.choice(["\r\n", "\r", "mixed"])
    lines = text.splitlines()
    if ending == "mixed":
        return "".join(line + rng.choice(["\n", "\r\n", "\r"]) for line in lines)
    return ending.join(lines) + ending


def rename_non_ascii(text: str, rng: random.Random) -> str:
    for old, new in _RENAMES.items():
        if rng.random() < 0.7:
            text = re.sub(rf"\b{old}\b", new, text)
    return text


def wide_characters(text: str, rng: random.Random) -> str:
    """Emoji and wide characters in comments, strings and (invalid) identifiers."""
    lines = text.splitlines(keepends=True)
    for _ in range(rng.randint(1, 6)):
        if not lines:
            break
        i = rng.randrange(len(lines))
        body = lines[i].rstrip("\r\n")
        end = lines[i][len(body) :]
        choice = rng.random()
        if choice < 0.4:
            body += "  # 🔥👩\u200d💻 全角 ＡＢＣ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢"
        elif choice < 0.7:
            body = body.replace("'", "'🔥", 1).replace('"', '"漢字', 1)
        else:
            at = rng.randrange(len(body) + 1)
            body = body[:at] + rng.choice(["🔥", "漢", "ｗ", "\U0001f600"]) + body[at:]
        lines[i] = body + end
    return "".join(lines)


def long_line(text: str, rng: random.Random) -> str:
    length = rng.choice([10_000, 100_000, 400_000])
    kind = rng.random()
    if kind < 0.3:
        line = "x = '" + "🔥a" * (length // 2) + "'"
    elif kind < 0.6:
        line = "y = [" + "1, " * (length // 3) + "]"
    else:
        line = "# " + "é" * length
    lines = text.splitlines(keepends=True)
    at = rng.randrange(len(lines) + 1)
    return "".join([*lines[:at], line + "\n", *lines[at:]])


def deep_nesting(text: str, rng: random.Random) -> str:
    """Deep expression trees (recursion in ast and in the analysis) appended to the text."""
    n = rng.choice([100, 1_000, 5_000, 20_000, 60_000])
    kind = rng.randrange(10)
    expression = [
        lambda: "a" + ".b" * n,
        lambda: "f" + "()" * n,
        lambda: "a" + "[0]" * n,
        lambda: " + ".join(["a"] * n),
        lambda: " and ".join(["a"] * n),
        lambda: " < ".join(["a"] * n),
        lambda: "(" * min(n, 250) + "1" + ")" * min(n, 250),
        lambda: "-" * n + "1",
        lambda: "lambda: " * n + "1",
        lambda: "[" * min(n, 250) + "]" * min(n, 250),
    ][kind]()
    return text + f"\nmodel.fc = {expression}\n"


def deep_blocks(text: str, rng: random.Random) -> str:
    depth = rng.choice([20, 60, 99, 101])
    lines = ["    " * i + "if x:" for i in range(depth)]
    lines.append("    " * depth + "optimizer.zero_grad()")
    return text + "\n" + "\n".join(lines) + "\n"


MUTATIONS: dict[str, Callable[[str, random.Random], str]] = {
    "truncate mid-line": truncate_mid_line,
    "delete": delete_span,
    "insert": insert_snippet,
    "unbalanced bracket": unbalance,
    "tabs": tabs,
    "line endings": line_endings,
    "non-ASCII identifiers": rename_non_ascii,
    "emoji and wide characters": wide_characters,
    "long line": long_line,
    "deep nesting": deep_nesting,
    "deep blocks": deep_blocks,
}


def mutants(text: str, rng: random.Random, count: int) -> Iterator[tuple[str, str]]:
    """``count`` (mutation name, mutated text) pairs; some stack two or three mutations."""
    names = list(MUTATIONS)
    for _ in range(count):
        chosen = [rng.choice(names) for _ in range(rng.choice([1, 1, 1, 2, 3]))]
        mutated = text
        for name in chosen:
            mutated = MUTATIONS[name](mutated, rng)
        yield "+".join(chosen), mutated


# -- checking the engine ------------------------------------------------------------------


class EngineFailure(AssertionError):
    pass


def check_engine(text: str, label: str, path: str = "fuzz.py", **kwargs) -> AnalysisResult:
    """Analyse ``text``: returns in time, never raises, no internal-error notice."""
    started = time.perf_counter()
    try:
        result = analyze(text, path, **kwargs)
    except BaseException as error:  # the property under test: nothing escapes
        raise EngineFailure(f"{label}: analyze raised {type(error).__name__}: {error}") from error
    elapsed = time.perf_counter() - started
    record("engine inputs")
    if elapsed > TIME_BOUND:
        raise EngineFailure(f"{label}: analysis took {elapsed:.1f} s (bound {TIME_BOUND} s)")
    internal = [n for n in result.notices if "internal error" in n]
    if internal:
        raise EngineFailure(f"{label}: {internal}")
    if result.parse_error is None and not result.notices:
        record("engine inputs analysed (parsed)")
    for finding in result.findings:
        _check_finding_positions(finding, text, label)
    return result


def _check_finding_positions(finding: Finding, text: str, label: str) -> None:
    span = finding.span
    if not (span.start <= span.end and span.start.line >= 0 and span.start.column >= 0):
        raise EngineFailure(f"{label}: malformed span {span} for {finding.code}")


# -- checking fixes ---------------------------------------------------------------------


@dataclass
class FixStats:
    findings: int = 0
    fixes_applied: int = 0
    fix_all_runs: int = 0
    failures: list[str] = field(default_factory=list)


def _counts_of(result: AnalysisResult) -> Counter[str]:
    return Counter(f.code for f in result.findings)


def verify_fixes(text: str, label: str, path: str = "train.py") -> FixStats:
    """Every fix of every finding, one at a time; then fix-all, safe and unsafe."""
    stats = FixStats()

    def analyse(current: str) -> AnalysisResult:
        return analyze(current, path)

    before = analyse(text)
    if before.parse_error is not None or before.notices:
        return stats
    before_counts = _counts_of(before)
    for finding in before.findings:
        stats.findings += 1
        for fix in finding.fixes:
            problem = _check_one_fix(text, finding, fix, before_counts, analyse)
            stats.fixes_applied += 1
            if problem:
                stats.failures.append(f"{label}: {finding.code} fix {fix.title!r}: {problem}")
    chosen_problem = _check_chosen(before.findings)
    if chosen_problem:
        stats.failures.append(f"{label}: {chosen_problem}")
    for unsafe in (False, True):
        problem = _check_fix_all(text, analyse, unsafe)
        stats.fix_all_runs += 1
        if problem:
            mode = "unsafe" if unsafe else "safe"
            stats.failures.append(f"{label}: fix-all ({mode}): {problem}")
    record("findings on the fix corpus", stats.findings)
    record("fixes applied and verified", stats.fixes_applied)
    record("fix-all runs (safe and unsafe) verified", stats.fix_all_runs)
    return stats


def _edits_overlap(fix: Fix) -> bool:
    edits = list(fix.edits)
    return any(a.span.overlaps(b.span) for i, a in enumerate(edits) for b in edits[i + 1 :])


def _check_one_fix(
    text: str,
    finding: Finding,
    fix: Fix,
    before: Counter[str],
    analyse: Callable[[str], AnalysisResult],
) -> str | None:
    if not fix.edits:
        return "no edits"
    if _edits_overlap(fix):
        return f"two edits overlap: {fix.edits}"
    try:
        fixed = apply_edits(text, fix.edits)
    except ValueError as error:
        return f"edits cannot be applied: {error}"
    if fixed == text:
        return "changes nothing"
    if not parses(fixed):
        return "result does not parse:\n" + fixed
    after = analyse(fixed)
    if after.parse_error is not None:
        return f"result does not analyse: {after.parse_error}"
    counts = _counts_of(after)
    if counts[finding.code] >= before[finding.code]:
        return f"the finding is still there:\n{fixed}"
    grown = {c: n for c, n in counts.items() if n > before[c]}
    if grown:
        return f"new findings {grown}:\n{fixed}"
    return None


def _check_chosen(findings: list[Finding]) -> str | None:
    for unsafe in (False, True):
        chosen = non_overlapping(findings, unsafe)
        edits = [(i, e) for i, fix in enumerate(chosen) for e in fix.edits]
        for a, (i, first) in enumerate(edits):
            for j, second in edits[a + 1 :]:
                if i != j and first.span.overlaps(second.span):
                    return f"chosen fixes overlap: {first} / {second}"
    return None


def _check_fix_all(text: str, analyse: Callable[[str], AnalysisResult], unsafe: bool) -> str | None:
    outcome = fix_text(text, analyse, unsafe=unsafe)
    if not parses(outcome.text):
        return "result does not parse:\n" + outcome.text
    if outcome.text != text and outcome.applied == 0:
        return "text changed but no fix counted"
    again = fix_text(outcome.text, analyse, unsafe=unsafe)
    if again.text != outcome.text:
        return f"not idempotent: a second run changed\n{outcome.text}\ninto\n{again.text}"
    record("fixes applied by fix-all", outcome.applied)
    return None


def line_ending_variants(text: str) -> list[tuple[str, str]]:
    """The text with CRLF endings and with tab indentation (fixes must keep working)."""
    return [("crlf", text.replace("\r\n", "\n").replace("\n", "\r\n")), ("tabs", _tabify(text))]


def _tabify(text: str) -> str:
    out = []
    for line in text.splitlines(keepends=True):
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        out.append("\t" * (indent // 4) + " " * (indent % 4) + stripped)
    return "".join(out)
