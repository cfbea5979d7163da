"""One file's failure never ends a ``check`` run (gradguard.runner).

Faults are injected into ``gradguard.cli.analyse.analyze`` before the run; the worker
processes are forked from the test process, so they inherit the fault.
"""

from __future__ import annotations

import json
import os
import signal
import textwrap
from pathlib import Path

import pytest

from gradguard import astlock, cli, engine, runner
from gradguard.cli import analyse
from gradguard.source import SourceFile

BUGGY = textwrap.dedent(
    """\
    import torch.nn as nn


    class Net(nn.Module):
        def _init_(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)
    """
)
FILES = 20
BAD = "f07.py"


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # Twenty small files: worth workers only when the size threshold says so.
    monkeypatch.setattr(runner, "PARALLEL_MIN_BYTES", 0)
    for n in range(FILES):
        (tmp_path / f"f{n:02}.py").write_text(BUGGY)
    return tmp_path


def _inject(monkeypatch, fault):
    """``fault(path)`` runs before the analysis of every file."""
    real = analyse.analyze

    def analyze(text, path, **kwargs):
        fault(path)
        return real(text, path, **kwargs)

    monkeypatch.setattr(analyse, "analyze", analyze)


def _system_error(path):
    if path.endswith(BAD):
        raise SystemError("AST constructor recursion depth mismatch (before=84, after=233)")


def _kill(path):
    if path.endswith(BAD):
        os.kill(os.getpid(), signal.SIGKILL)


def _check(capsys, *args):
    code = cli.main(["check", "--no-resolve", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _reported_files(out):
    return {line.split(":", 1)[0] for line in out.splitlines() if "GG204" in line}


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_exception_in_one_file_is_its_report_and_the_run_goes_on(
    project, capsys, monkeypatch, jobs
):
    _inject(monkeypatch, _system_error)
    code, out, _ = _check(capsys, ".", "-j", jobs)
    assert code == 2
    assert _reported_files(out) == {f"f{n:02}.py" for n in range(FILES)} - {BAD}
    assert (
        f"{BAD}: internal error: SystemError: AST constructor recursion depth mismatch "
        "(before=84, after=233) (file not analysed)"
    ) in out.splitlines()


@pytest.mark.parametrize("format_", ["json", "sarif", "github"])
def test_the_internal_error_shows_in_every_format(project, capsys, monkeypatch, format_):
    _inject(monkeypatch, _system_error)
    code, out, _ = _check(capsys, ".", "-j", "2", "--format", format_)
    assert code == 2
    message = f"{BAD}: internal error: SystemError: AST constructor"
    if format_ == "json":
        errors = json.loads(out)["errors"]
        assert [e["path"] for e in errors] == [BAD]
        assert errors[0]["message"].startswith(message)
        assert len(json.loads(out)["findings"]) == FILES - 1
    elif format_ == "sarif":
        run = json.loads(out)["runs"][0]
        assert run["invocations"][0]["executionSuccessful"] is False
        notes = run["invocations"][0]["toolExecutionNotifications"]
        assert [n["message"]["text"][: len(message)] for n in notes] == [message]
        assert len(run["results"]) == FILES - 1
    else:
        assert f"::error file={BAD},line=1,col=1::{message}" in out


def test_a_killed_worker_is_reported_and_its_other_files_are_retried(
    project, capsys, caplog, monkeypatch
):
    _inject(monkeypatch, _kill)
    code, out, _ = _check(capsys, ".", "-j", "2")
    assert code == 2
    assert _reported_files(out) == {f"f{n:02}.py" for n in range(FILES)} - {BAD}
    assert (
        f"{BAD}: internal error: the worker process analysing it was killed by SIGKILL "
        "(file not analysed)"
    ) in out.splitlines()
    assert "a worker process died" in caplog.text


def test_a_worker_killed_once_is_retried_and_the_file_analysed(
    project, capsys, caplog, monkeypatch
):
    marker = project / "killed-once"

    def kill_once(path):
        if path.endswith(BAD) and not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)

    _inject(monkeypatch, kill_once)
    code, out, _ = _check(capsys, ".", "-j", "2")
    assert code == 1
    assert _reported_files(out) == {f"f{n:02}.py" for n in range(FILES)}
    assert "internal error" not in out and "a worker process died" in caplog.text


def test_an_internal_error_on_stdin_with_fix_gives_the_text_back(capsys, monkeypatch):
    _inject(monkeypatch, lambda path: _system_error(BAD))
    monkeypatch.setattr("sys.stdin", _Stdin(BUGGY))
    code = cli.main(["check", "--no-resolve", "--fix", "-"])
    out, err = capsys.readouterr()
    assert code == 2 and out == BUGGY
    assert "-: internal error: SystemError" in err


class _Stdin:
    def __init__(self, text: str) -> None:
        import io

        self.buffer = io.BytesIO(text.encode())


def _flaky_parse(failures: int):
    real, calls = astlock._unlocked_parse, []

    def parse(*args, **kwargs):
        calls.append(1)
        if len(calls) <= failures:
            raise SystemError("AST constructor recursion depth mismatch (before=3, after=9)")
        return real(*args, **kwargs)

    return parse, calls


def test_a_system_error_from_ast_parse_is_retried_once(monkeypatch):
    parse, calls = _flaky_parse(failures=1)
    monkeypatch.setattr(astlock, "_unlocked_parse", parse)
    tree = engine.parse(SourceFile("x = 1\n", "a.py"))
    assert not isinstance(tree, engine.ParseError) and len(calls) == 2


def test_a_second_system_error_is_raised_for_the_caller_to_report(monkeypatch, tmp_path, capsys):
    parse, calls = _flaky_parse(failures=2)
    monkeypatch.setattr(astlock, "_unlocked_parse", parse)
    with pytest.raises(SystemError):
        engine.parse(SourceFile("x = 1\n", "a.py"))
    assert len(calls) == 2
    monkeypatch.setattr(astlock, "_unlocked_parse", _flaky_parse(failures=2)[0])
    (tmp_path / "a.py").write_text(BUGGY)
    code, out, _ = _check(capsys, str(tmp_path / "a.py"))
    assert code == 2 and "a.py: internal error: SystemError" in out


def test_exit_status_precedence():
    from gradguard.cli.analyse import FileOutcome
    from gradguard.findings import Finding, Position, Severity, Span
    from gradguard.output import FileReport

    span = Span(Position(0, 0), Position(0, 1))
    finding = Finding("GG204", "misspelled-init", "m", span, Severity.ERROR)
    clean = FileOutcome(FileReport("a.py"))
    found = FileOutcome(FileReport("b.py", (finding,)))
    failed = cli.analyse.internal_error("c.py", "SystemError: x")
    status = cli.exit_status
    assert status([clean]) == 0
    assert status([clean, found]) == 1
    assert status([found, failed]) == 2
    assert status([found, failed], exit_zero=True) == 2  # --exit-zero hides findings only
    assert status([clean], config_errors=True) == 2


def _reason(path: Path, reason: str) -> str:
    return reason


def _pid(path: Path) -> int:
    return os.getpid()


def test_results_keep_the_order_of_the_paths(monkeypatch):
    monkeypatch.setattr(runner, "PARALLEL_MIN_BYTES", 0)
    paths = [Path(f"p{n}") for n in range(40)]
    assert runner.run_all(paths, runner.Job(str, _reason), jobs=2) == [str(p) for p in paths]
    assert os.getpid() not in runner.run_all(paths, runner.Job(_pid, _reason), jobs=2)


def test_files_too_small_for_a_worker_are_analysed_in_the_parent(tmp_path):
    paths = [tmp_path / f"f{n}.py" for n in range(40)]
    for path in paths:
        path.write_text(BUGGY)
    assert set(runner.run_all(paths, runner.Job(_pid, _reason), jobs=2)) == {os.getpid()}
    big = tmp_path / "big.py"
    big.write_text(BUGGY * (runner.PARALLEL_MIN_BYTES // len(BUGGY) + 1))
    pids = runner.run_all([*paths, big], runner.Job(_pid, _reason), jobs=2)
    assert os.getpid() not in pids
