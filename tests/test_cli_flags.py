"""Every ``gradguard check`` flag and the exit status rules."""

from __future__ import annotations

import io
import json
import sys

import pytest

from gradguard.cli import main
from gradguard.cli.arguments import default_jobs
from test_cli import BUGGY, CLEAN, project, run

__all__ = ["project"]  # the fixture, shared with test_cli
# GG204 is an error by default; the severity table lowers it to information.
INFO_ONLY = '[tool.gradguard]\nseverity = {GG204 = "information"}\n'


def test_information_findings_do_not_fail_the_run(project, capsys):
    (project / "pyproject.toml").write_text(INFO_ONLY)
    code, out, _ = run(capsys, "buggy.py")
    assert code == 0 and "GG204" in out
    (project / "pyproject.toml").write_text('[tool.gradguard]\nseverity = {GG204 = "warning"}\n')
    assert run(capsys, "buggy.py")[0] == 1


def test_exit_zero_and_exit_non_zero_on_fix(project, capsys):
    assert run(capsys, "--exit-zero", "buggy.py")[0] == 0
    assert run(capsys, "--exit-zero", "nope.py")[0] == 2  # usage errors still fail
    assert run(capsys, "--fix", "--exit-non-zero-on-fix", "buggy.py")[0] == 1
    assert "__init__(self)" in (project / "buggy.py").read_text()
    assert run(capsys, "--fix", "--exit-non-zero-on-fix", "buggy.py")[0] == 0  # nothing fixed


def test_output_file_and_quiet(project, capsys):
    code, out, err = run(capsys, "-o", "report.json", "--format", "json", "buggy.py")
    assert code == 1 and out == "" and err == ""  # machine formats print no summary
    assert json.loads((project / "report.json").read_text())["findings"][0]["code"] == "GG204"
    code, out, err = run(capsys, "-o", "missing/report.json", "buggy.py")
    assert code == 2 and out == "" and "no such directory" in err
    (project / "a-directory").mkdir()
    code, out, err = run(capsys, "-o", "a-directory", "buggy.py")  # cannot be opened
    assert code == 2 and "--output-file" in err
    code, out, err = run(capsys, "--quiet", "buggy.py")
    assert code == 1 and out.startswith("buggy.py:5:9: GG204") and err == ""
    # Notices (a skipped file) and noqa warnings are not findings: --quiet leaves them out too,
    # while an invalid configuration, which changes what is found, is still reported.
    (project / "noqa.py").write_text("import torch  # noqa: GG999\n")
    assert "GG999" in run(capsys, "noqa.py")[2]
    (project / "pyproject.toml").write_text("[tool.gradguard]\nmax-file-bytes = 60\n")
    (project / "big.py").write_text("import torch\n" * 10)
    code, out, err = run(capsys, "--quiet", "noqa.py", "big.py")
    assert (code, out, err) == (0, "", "")
    (project / "pyproject.toml").write_text('[tool.gradguard]\nmax-file-bytes = "big"\n')
    code, out, err = run(capsys, "--quiet", "noqa.py")
    assert code == 2 and out == "" and "GG999" not in err
    assert err.endswith("[max-file-bytes]: expected a positive integer, got 'big' (default used)\n")
    # One bad entry of a table drops that entry only: said once, not "(default used)" after it.
    (project / "pyproject.toml").write_text('[tool.gradguard]\nseverity = {GG204 = "loud"}\n')
    err = run(capsys, "noqa.py")[2]
    assert "got 'loud' (entry ignored)\n" in err and "(default used)" not in err


def test_summary_lines(project, capsys):
    assert run(capsys, "buggy.py")[2] == "Found 1 finding (1 fixable with `--fix`).\n"
    assert run(capsys, "clean.py")[2] == "All checks passed!\n"
    # A file that could not be analysed is not a pass (exit 1): the summary must not say so.
    (project / "broken.py").write_text("def (:\n")
    code, _, err = run(capsys, "clean.py", "broken.py")
    assert code == 1 and err == "No findings, but 1 file could not be analysed.\n"
    (project / "empty").mkdir()
    assert run(capsys, "empty") == (0, "", "No Python files or notebooks found\n")


def test_a_file_skipped_for_size_is_not_called_a_pass(project, capsys):
    limit = len(BUGGY.encode()) + 10
    (project / "pyproject.toml").write_text(f"[tool.gradguard]\nmax-file-bytes = {limit}\n")
    (project / "big.py").write_text(BUGGY + "\n# padding\n" * 20)
    code, _, err = run(capsys, "big.py")
    assert code == 0  # skipping is the configuration's choice, not a failure
    assert err.splitlines() == [
        f"gradguard: big.py: skipped, {len((project / 'big.py').read_bytes())} bytes is over the "
        f"{limit}-byte limit (max-file-bytes)",
        "No findings, but 1 file was skipped (see the notices).",
    ]
    code, _, err = run(capsys, "big.py", "buggy.py")
    assert code == 1 and err.endswith(
        "Found 1 finding (1 fixable with `--fix`). (1 file skipped)\n"
    )


def test_show_fixes(project, capsys):
    _, _, err = run(capsys, "--fix", "--show-fixes", "buggy.py")
    assert "Fixed 1 finding:\nbuggy.py:\n    1 × GG204\n" in err


def test_statistics_honours_json(project, capsys):
    code, out, _ = run(capsys, "--statistics", "--format", "json", ".")
    assert code == 1
    assert json.loads(out) == [
        {"code": "GG204", "name": "misspelled-init", "count": 1, "fixable": True}
    ]


def test_stdin_filename_alone_reads_stdin(project, capsys, monkeypatch):
    (project / "other.py").write_text(BUGGY)  # must not be linted
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(CLEAN.encode())))
    assert run(capsys, "-q", "--stdin-filename", "train.py") == (0, "", "")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(BUGGY.encode())))
    code, out, _ = run(capsys, "--stdin-filename", "train.py")
    assert code == 1 and out.startswith("train.py:5:9: GG204")


def test_argument_errors_print_the_check_usage(project, capsys):
    for argv in (["--jobs", "0"], ["--bogus"], ["--format", "xml"]):
        with pytest.raises(SystemExit) as exit_:
            main(["check", *argv])
        assert exit_.value.code == 2
        assert capsys.readouterr().err.startswith("usage: gradguard check")


def test_jobs_default_is_the_cpus_this_process_may_use(monkeypatch):
    import os

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 3}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert default_jobs() == 2


def test_select_extend_select_ignore_and_all(project, capsys):
    (project / "pyproject.toml").write_text('[tool.gradguard]\nselect = ["GG1"]\n')
    assert run(capsys, "buggy.py")[0] == 0
    assert run(capsys, "--extend-select", "GG204", "buggy.py")[0] == 1
    assert run(capsys, "--select", "ALL", "buggy.py")[0] == 1
    assert run(capsys, "--select", "ALL", "--ignore", "GG2", "buggy.py")[0] == 0
    # The CLI's --select replaces the project's selection, its ignore included.
    (project / "pyproject.toml").write_text('[tool.gradguard]\nignore = ["GG204"]\n')
    assert run(capsys, "buggy.py")[0] == 0
    assert run(capsys, "--select", "GG2", "buggy.py")[0] == 1


def test_add_noqa_baselines_and_keeps_code(project, capsys):
    (project / "two.py").write_text(BUGGY.replace("_init_(self):", "_init_(self):  # noqa: E501"))
    assert main(["check", "--no-resolve", "--add-noqa", "."]) == 0
    assert "Added 2 noqa directives." in capsys.readouterr().err
    assert "def _init_(self):  # noqa: GG204\n" in (project / "buggy.py").read_text()
    assert "def _init_(self):  # noqa: E501, GG204\n" in (project / "two.py").read_text()
    assert run(capsys, "-q", ".") == (0, "", "")
    code, _, err = run(capsys, "--add-noqa", "--stdin-filename", "x.py")
    assert code == 2 and "cannot read standard input" in err


def test_malformed_and_unknown_noqa_are_reported(project, capsys):
    (project / "buggy.py").write_text(BUGGY.replace("_init_(self):", "_init_(self):  # noqa GG301"))
    code, out, err = run(capsys, "buggy.py")
    # Like ruff, a noqa without its colon silences the whole line, and says so.
    assert code == 0 and out == ""
    assert "buggy.py:5: `# noqa GG301` has no colon" in err and "write `# noqa: GG301`" in err
    (project / "buggy.py").write_text(
        BUGGY.replace("_init_(self):", "_init_(self):  # noqa: GG999")
    )
    code, out, err = run(capsys, "buggy.py")
    assert code == 1 and "buggy.py:5: unknown rule code GG999 in a noqa comment" in err


def test_missing_config_file_is_a_usage_error(project, capsys):
    code, out, err = run(capsys, "--config", "missing.toml", ".")
    assert code == 2 and out == "" and "missing.toml" in err and "nothing checked" in err


def test_force_exclude_applies_to_named_files(project, capsys):
    (project / "pyproject.toml").write_text('[tool.gradguard]\nextend-exclude = ["buggy.py"]\n')
    assert run(capsys, "buggy.py")[0] == 1  # named explicitly: checked
    assert run(capsys, "--force-exclude", "buggy.py")[0] == 0
    assert run(capsys, "-q", ".")[0] == 0
    assert run(capsys, "--extend-exclude", "clean.py", "--force-exclude", "clean.py")[1] == ""
