"""Limits: a per-document analysis time limit, a size limit, and a time limit on
every jedi query; and configuration errors (engine, CLI and server)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from dataclasses import replace

import pytest
from harness import record
from rawlsp import FAULTY_SERVER, RawServer

from gradguard.config import Config
from gradguard.engine import analyze
from gradguard.rules import all_rules
from gradguard.rules.base import Rule

CODE = textwrap.dedent(
    """\
    import torch
    from torch import nn

    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.bias = None
    """
)


def _slow(rule: Rule, seconds: float) -> Rule:
    original = rule.check_function

    def check(rule, context):
        time.sleep(seconds)
        return original(rule, context)

    return replace(rule, check_function=check)


# -- the engine ------------------------------------------------------------------------


def test_engine_time_limit_skips_the_remaining_rules():
    rules = list(all_rules())
    first = rules[0]
    rules[0] = _slow(first, 0.3)
    started = time.monotonic()
    result = analyze(CODE, "t.py", rules=rules, time_limit=0.1)
    assert time.monotonic() - started < 2.0
    (notice,) = result.notices
    assert "analysis stopped at the time limit" in notice
    assert rules[1].code in notice and first.code not in notice.split("not run:")[1]
    record("faults injected into the engine")


def test_engine_without_a_time_limit_runs_every_rule():
    result = analyze(CODE, "t.py", time_limit=30)
    assert not result.notices
    assert [f.code for f in result.findings] == ["GG201"]


def test_engine_size_limit():
    big = CODE + "x = 1\n" * 2_000
    result = analyze(big, "big.py", config=Config(max_file_bytes=1_000))
    assert not result.findings
    (notice,) = result.notices
    assert "big.py: skipped" in notice and "max-file-bytes" in notice


def test_engine_rule_crash_is_isolated():
    def boom(rule, context):
        raise ValueError("injected")

    rules = [replace(r, check_function=boom) if r.code == "GG204" else r for r in all_rules()]
    result = analyze(CODE, "t.py", rules=rules)
    assert [f.code for f in result.findings] == ["GG201"]
    assert any("internal error in rule GG204" in n for n in result.notices)
    record("faults injected into the engine")


# -- jedi ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["blocking", "nonblocking"])
def test_every_jedi_query_is_time_bounded(tmp_path, monkeypatch, mode):
    """jedi stuck for 3 s: classify and describe_class come back within the timeout."""
    from gradguard.resolver import JediResolver

    (tmp_path / "models.py").write_text("import torch\nclass Net(torch.nn.Module): pass\n")
    train = str(tmp_path / "train.py")
    resolver = JediResolver(str(tmp_path), timeout=0.2, mode=mode)
    try:
        monkeypatch.setattr(resolver, "_compute", lambda *args: time.sleep(3))
        for ask in (resolver.classify, resolver.describe_class):
            for name in ("models.Net", "models.Other", ".models.Net"):
                started = time.monotonic()
                assert ask(name, train) is None
                assert time.monotonic() - started < 1.0, (ask, name)
                record("jedi queries with a stuck jedi")
    finally:
        resolver.close()


def test_analysis_with_a_stuck_jedi_is_bounded(tmp_path, monkeypatch):
    from gradguard.resolver import JediResolver

    resolver = JediResolver(str(tmp_path), timeout=0.1, mode="nonblocking")
    try:
        monkeypatch.setattr(resolver, "_compute", lambda *args: time.sleep(5))
        code = CODE + "from models import Net\nnet = Net()\n"
        started = time.monotonic()
        result = analyze(code, str(tmp_path / "train.py"), resolver=resolver)
        assert time.monotonic() - started < 2.0
        assert "GG201" in [f.code for f in result.findings]
    finally:
        resolver.close()


# -- the server: time and size limits --------------------------------------------------------


def test_server_time_limit_is_reported_once(tmp_path):
    """GG301 made to take 2 s on this file, the server's limit set to 1 s (test launcher)."""
    server = RawServer([*FAULTY_SERVER, "--slow", "GG301:2", "--time-limit", "1"], cwd=tmp_path)
    try:
        server.initialize(tmp_path, options={"gradguard": {"debounceMs": 10}})
        warm = (tmp_path / "warm.py").as_uri()  # first analysis: imports, jedi start-up
        server.open(warm, CODE)
        server.wait_published(warm, 1)
        uri = (tmp_path / "slow.py").as_uri()
        text = "# SLOW_RULE_MARKER\n" + CODE
        server.open(uri, text)
        diagnostics = server.wait_published(uri, 1)
        assert [d["code"] for d in diagnostics] == ["GG201"], server.log_lines()
        server.change(uri, 2, [{"text": text + "\n"}])
        server.wait_published(uri, 2)
        # warm.py may hit the limit too on a loaded machine (its analysis starts everything up).
        shown = [line for line in server.log_lines() if "time limit" in line and "slow.py" in line]
        assert len(shown) == 2, shown  # one logMessage, one showMessage: not one per edit
        assert "GG302" in shown[0] and "GG402" in shown[0]
        record("server faults injected")
        assert server.stop() == 0
    finally:
        server.kill()
    server.assert_only_protocol_on_stdout()


def test_server_size_limit_and_configuration_errors(tmp_path):
    """One workspace: a huge file (default 2 MB limit), a project with a small
    max-file-bytes, and projects with broken, unknown and mistyped settings."""
    huge = "import torch\n" + "x = torch.zeros(3)  # generated\n" * 80_000  # ~2.6 MB
    projects = {
        "small": "[tool.gradguard]\nmax-file-bytes = 100\n",
        "broken": "[tool.gradguard\nselect = [\n",
        "unknown": '[tool.gradguard]\nselect = ["GG999X"]\ncolour = "red"\n',
        "types": '[tool.gradguard]\nmax-file-bytes = "big"\nseverity = { GG201 = "loud" }\n',
    }
    for name, content in projects.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "pyproject.toml").write_text(content)
    server = RawServer(cwd=tmp_path)
    try:
        server.initialize(tmp_path, options={"gradguard": {"debounceMs": 10}})
        uri = (tmp_path / "huge.py").as_uri()
        started = time.monotonic()
        server.open(uri, huge)
        assert server.wait_published(uri, 1, timeout=30) == []
        assert time.monotonic() - started < 20
        server.change(uri, 2, [{"text": huge + "y = 1\n"}])
        server.wait_published(uri, 2, timeout=30)
        skipped = [line for line in server.log_lines() if "huge.py: skipped" in line]
        assert len(skipped) == 2, skipped  # logMessage + showMessage, once
        assert "max-file-bytes" in skipped[0]
        small = (tmp_path / "small" / "t.py").as_uri()
        server.open(small, CODE)
        assert server.wait_published(small, 1) == []
        assert any("t.py: skipped" in line for line in server.log_lines())
        # Configuration errors: each named with its file and key; defaults used.
        for name in ("broken", "unknown", "types"):
            doc = (tmp_path / name / "t.py").as_uri()
            server.open(doc, CODE)
            assert [d["code"] for d in server.wait_published(doc, 1)] == ["GG201"], name
            record("configuration errors injected")
        lines = "\n".join(server.log_lines())
        broken = str(tmp_path / "broken" / "pyproject.toml")
        assert f"{broken}: invalid TOML" in lines
        assert "[select]: unknown rule code or prefix GG999X" in lines
        assert "[colour]: unknown setting" in lines
        assert "[max-file-bytes]: expected a positive integer, got 'big'" in lines
        assert "[severity]: severity of GG201 must be one of" in lines
        shows = [m for m in server.notifications("window/showMessage")]
        assert all(m["params"]["message"].count(broken) <= 1 for m in shows)
        # A hover on the huge file comes back at once (it is not parsed for symbols either).
        started = time.monotonic()
        position = {"line": 1, "character": 1}
        response = server.request(
            "textDocument/hover", {"textDocument": {"uri": uri}, "position": position}
        )
        assert "error" not in response and time.monotonic() - started < 15
        assert server.stop() == 0
    finally:
        server.kill()
    server.assert_only_protocol_on_stdout()


# -- configuration errors: the CLI -------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[tool.gradguard\n", "invalid TOML"),
        ('[tool.gradguard]\nselect = ["GG999X"]\n', "[select]: unknown rule code or prefix GG999X"),
        ('[tool.gradguard]\nignore = "GG1"\ncolour = 1\n', "[colour]: unknown setting"),
        ("[tool.gradguard]\nselect = 5\n", "[select]: expected a list of rule codes"),
        ("[tool.gradguard]\nmax-file-bytes = -1\n", "[max-file-bytes]: expected a positive"),
        ('[tool.gradguard]\nseverity = { GG201 = "loud" }\n', "[severity]: severity of GG201"),
        ('[tool.gradguard]\nper-file-ignores = ["x"]\n', "[per-file-ignores]: expected a table"),
        ("[tool]\ngradguard = 3\n", "expected a table of settings"),
    ],
)
def test_cli_configuration_errors(tmp_path, content, expected):
    (tmp_path / "pyproject.toml").write_text(content)
    (tmp_path / "t.py").write_text(CODE)
    proc = subprocess.run(
        [sys.executable, "-m", "gradguard", "check", "--no-resolve", "t.py"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    record("configuration errors injected")
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if "invalid configuration" in line]
    assert len(errors) == 1, proc.stderr  # one clear message
    assert str(tmp_path / "pyproject.toml") in errors[0] and expected in errors[0]
    assert errors[0].endswith("(entry ignored)" if "severity" in content else "(default used)")
    assert "GG201" in proc.stdout  # the run went on with the defaults
    assert "Traceback" not in proc.stderr
