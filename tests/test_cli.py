"""The ``gradguard`` command line, run in-process through ``main``."""

from __future__ import annotations

import io
import json
import sys
import textwrap

import pytest

from gradguard.cli import main

BUGGY = textwrap.dedent(
    """\
    import torch.nn as nn


    class Net(nn.Module):
        def _init_(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)
    """
)
CLEAN = "import torch\n\nx = torch.zeros(3)\n"


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["check", "--no-resolve", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "buggy.py").write_text(BUGGY)
    (tmp_path / "clean.py").write_text(CLEAN)
    return tmp_path


def test_text_format_and_exit_code_one(project, capsys):
    code, out, _ = run(capsys, "buggy.py", "clean.py")
    assert code == 1
    assert out == (
        "buggy.py:5:9: GG204 [misspelled-init] `Net._init_` is never called: the constructor "
        "of an nn.Module is `__init__`, so its layers are not created and the model has no "
        "parameters [*]\n"
    )


def test_clean_file_exits_zero_with_no_output(project, capsys):
    assert run(capsys, "clean.py") == (0, "", "All checks passed!\n")
    assert run(capsys, "-q", "clean.py") == (0, "", "")


def test_directory_is_recursed_and_output_sorted(project, capsys):
    (project / "pkg").mkdir()
    (project / "pkg" / "a.py").write_text(BUGGY)
    (project / "pkg" / "b.txt").write_text(BUGGY)
    code, out, _ = run(capsys, ".")
    assert code == 1
    assert [line.split(":")[0] for line in out.splitlines()] == ["buggy.py", "pkg/a.py"]


def test_json_format(project, capsys):
    code, out, _ = run(capsys, "--format", "json", "buggy.py")
    data = json.loads(out)
    (finding,) = data["findings"]
    assert code == 1 and data["errors"] == []
    assert finding["code"] == "GG204" and finding["name"] == "misspelled-init"
    assert finding["range"] == {"line": 5, "column": 9, "end_line": 5, "end_column": 15}
    assert finding["fixes"][0]["safety"] == "safe"
    assert finding["fixes"][0]["edits"][0]["new_text"] == "__init__"
    assert finding["url"].endswith("docs/rules/GG204.md")


def test_sarif_format(project, capsys):
    _, out, _ = run(capsys, "--format", "sarif", "buggy.py")
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0"
    run_ = sarif["runs"][0]
    rule_ids = [r["id"] for r in run_["tool"]["driver"]["rules"]]
    assert "GG204" in rule_ids and rule_ids == sorted(rule_ids)
    (result,) = run_["results"]
    assert result["ruleId"] == "GG204" and result["level"] == "error"
    assert rule_ids[result["ruleIndex"]] == "GG204"
    region = result["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (5, 9)


def test_github_format(project, capsys):
    _, out, _ = run(capsys, "--format", "github", "buggy.py")
    assert out.startswith(
        "::error file=buggy.py,line=5,col=9,endLine=5,endColumn=15,title=GG204 misspelled-init::"
    )


def test_statistics(project, capsys):
    (project / "more.py").write_text(BUGGY)
    code, out, _ = run(capsys, "--statistics", ".")
    assert code == 1
    assert out == "2\tGG204\t[*] misspelled-init\n"


def test_select_and_ignore(project, capsys):
    assert run(capsys, "--ignore", "GG2", "buggy.py")[0] == 0
    assert run(capsys, "--select", "GG1,GG3", "buggy.py")[0] == 0
    assert run(capsys, "--select", "GG204", "buggy.py")[0] == 1


def test_unknown_code_is_a_usage_error(project, capsys):
    code, _, err = run(capsys, "--select", "XY1", "buggy.py")
    assert code == 2 and "unknown rule code" in err


def test_missing_path_is_a_usage_error(project, capsys):
    code, _, err = run(capsys, "nope.py")
    assert code == 2 and "nope.py" in err


def test_fix_writes_and_second_run_changes_nothing(project, capsys):
    code, _, err = run(capsys, "--fix", "buggy.py")
    fixed = (project / "buggy.py").read_text()
    assert code == 0 and "def __init__(self):" in fixed
    assert err == "Found 1 finding (1 fixed, 0 remaining).\n"
    assert run(capsys, "--fix", "buggy.py")[0] == 0
    assert (project / "buggy.py").read_text() == fixed


def test_fix_keeps_crlf_and_encoding(project, capsys):
    path = project / "crlf.py"
    path.write_bytes(("# café\r\n" + BUGGY.replace("\n", "\r\n")).encode("utf-8"))
    run(capsys, "--fix", "crlf.py")
    data = path.read_bytes()
    assert b"def __init__(self):\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    assert "café".encode() in data


def test_diff_prints_without_writing(project, capsys):
    code, out, err = run(capsys, "--diff", "buggy.py")
    assert code == 1 and err == "Would fix 1 finding.\n"
    assert "-    def _init_(self):\n+    def __init__(self):\n" in out
    assert (project / "buggy.py").read_text() == BUGGY


def test_stdin_with_filename(project, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(BUGGY.encode())))
    code, out, _ = run(capsys, "-", "--stdin-filename", "models/net.py")
    assert code == 1 and out.startswith("models/net.py:5:9: GG204")


def test_stdin_fix_prints_fixed_code(project, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(BUGGY.encode())))
    code, out, _ = run(capsys, "-", "--fix")
    assert code == 0 and out == BUGGY.replace("def _init_", "def __init__")


def test_syntax_error_is_reported_and_run_goes_on(project, capsys):
    (project / "broken.py").write_text("import torch\ndef f(:\n    pass\n")
    code, out, _ = run(capsys, "broken.py", "buggy.py")
    lines = out.splitlines()
    assert code == 1
    assert lines[0].startswith("broken.py:2:") and "syntax error" in lines[0]
    assert lines[1].startswith("buggy.py:5:9: GG204")


def test_non_utf8_file_is_reported_with_its_line(project, capsys):
    (project / "latin.py").write_bytes(b"x = 1\ny = '\xe9'\n")
    code, out, _ = run(capsys, "latin.py", "buggy.py")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("buggy.py:5:9: GG204")
    assert lines[1].startswith("latin.py:2:6: cannot decode byte 0xe9")


def test_declared_encoding_is_honoured(project, capsys):
    (project / "latin.py").write_bytes(b"# -*- coding: latin-1 -*-\ny = '\xe9'\n")
    assert run(capsys, "-q", "latin.py") == (0, "", "")


def test_noqa_comments(project, capsys):
    (project / "buggy.py").write_text(
        BUGGY.replace("_init_(self):", "_init_(self):  # noqa: GG204")
    )
    assert run(capsys, "buggy.py")[0] == 0
    (project / "buggy.py").write_text(
        BUGGY.replace("_init_(self):", "_init_(self):  # noqa: GG101")
    )
    assert run(capsys, "buggy.py")[0] == 1
    (project / "buggy.py").write_text("# gradguard: noqa\n" + BUGGY)
    assert run(capsys, "buggy.py")[0] == 0


def test_pyproject_configuration(project, capsys):
    (project / "pyproject.toml").write_text(
        '[tool.gradguard]\nignore = ["GG204"]\nexclude = ["generated"]\n'
    )
    (project / "generated").mkdir()
    (project / "generated" / "x.py").write_text(BUGGY)
    assert run(capsys, "buggy.py", "generated")[0] == 0
    (project / "pyproject.toml").write_text(
        '[tool.gradguard]\nper-file-ignores = {"buggy.py" = ["GG2"]}\n'
        'severity = {GG204 = "warning"}\n'
    )
    (project / "other.py").write_text(BUGGY)
    code, out, _ = run(capsys, "--format", "github", ".")
    assert code == 1
    assert "::warning file=other.py," in out
    assert "buggy.py" not in out


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[tool.gradguard\n", "invalid TOML"),
        ('[tool.gradguard]\nselect = ["GG999X"]\n', "[select]: unknown rule code"),
        ("[tool.gradguard]\nignore = 3\n", "[ignore]: expected a list of rule codes"),
        ('[tool.gradguard]\nseverity = {GG204 = "loud"}\n', "[severity]: severity of GG204"),
        ("[tool.gradguard]\ncolour = true\n", "[colour]: unknown setting"),
    ],
)
def test_invalid_configuration_is_reported_and_defaults_used(project, capsys, toml, expected):
    (project / "pyproject.toml").write_text(toml)
    code, out, err = run(capsys, "buggy.py")
    assert code == 2
    # A bad entry of a table drops that entry; any other bad key falls back to its default.
    outcome = "(entry ignored)" if "severity" in toml else "(default used)"
    line = next(line for line in err.splitlines() if "invalid configuration" in line)
    assert "pyproject.toml" in line and expected in line and line.endswith(outcome)
    assert "GG204" in out  # the run went on with the defaults


def test_parallel_run_matches_serial(project, capsys):
    for i in range(20):
        (project / f"m{i:02}.py").write_text(BUGGY if i % 2 else CLEAN)
    serial = run(capsys, "--jobs", "1", ".")
    parallel = run(capsys, "--jobs", "2", ".")
    assert serial == parallel and serial[1].count("GG204") == 11


def test_rule_command_prints_docs(capsys):
    assert main(["rule", "GG204"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# GG204 `misspelled-init`") and "## Fix safety" in out
    assert main(["rule", "misspelled-init"]) == 0
    assert main(["rule", "GG999"]) == 2


def test_rule_all_lists_every_rule(capsys):
    from gradguard.rules import all_rules

    assert main(["rule", "--all"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()] == [r.code for r in all_rules()]


def test_server_accepts_the_stdio_flag_vscode_languageclient_adds():
    from gradguard.cli import build_parser

    args = build_parser().parse_args(["server", "--stdio"])
    assert args.stdio is True and args.tcp is None
