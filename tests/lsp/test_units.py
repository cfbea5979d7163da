"""In-process tests of the translation layer: columns, notebooks, settings, noqa edits."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradguard.config import Config
from gradguard.findings import Position, Severity, Span
from gradguard.lsp import convert
from gradguard.lsp.notebooks import build_program
from gradguard.lsp.settings import Settings, parse_settings, unwrap
from gradguard.rules import all_rules


@pytest.mark.parametrize(
    ("line", "column", "utf16", "utf8"),
    [
        ("abc", 2, 2, 2),
        ("😀x", 1, 2, 4),
        ("模型x", 2, 2, 6),
        ("é😀模x", 3, 4, 9),
        ("abc", 10, 3, 3),  # clamped to the line
    ],
)
def test_columns(line, column, utf16, utf8):
    assert convert.to_client_column(line, column, convert.UTF16) == utf16
    assert convert.to_client_column(line, column, convert.UTF8) == utf8
    assert convert.to_client_column(line, column, convert.UTF32) == min(column, len(line))
    assert convert.from_client_column(line, utf16, convert.UTF16) == min(column, len(line))
    assert convert.from_client_column(line, utf8, convert.UTF8) == min(column, len(line))


@given(st.text(max_size=30), st.data())
def test_columns_round_trip(line, data):
    line = line.replace("\n", "").replace("\r", "")
    column = data.draw(st.integers(0, len(line)))
    for encoding in (convert.UTF8, convert.UTF16, convert.UTF32):
        units = convert.to_client_column(line, column, encoding)
        assert convert.from_client_column(line, units, encoding) == column
    prefix = line[:column]
    assert (
        convert.to_client_column(line, column, convert.UTF16)
        == len(prefix.encode("utf-16-le", "surrogatepass")) // 2
    )


def test_kind_matching():
    assert convert.kind_matches("source.fixAll.gradguard", ["source"])
    assert convert.kind_matches("source.fixAll.gradguard", ["source.fixAll"])
    assert not convert.kind_matches("source.fixAll.gradguard", ["source.fix"])
    assert not convert.kind_matches("quickfix", ["source"])
    assert convert.kind_matches("quickfix", None)


def test_notebook_program_maps_lines_back_to_cells():
    program = build_program(
        [("c1", 1, "import torch\n%time x = 1"), ("c2", 3, "y = 2\n"), ("c3", 1, "!pip install x")]
    )
    assert program.text == "import torch\npass\ny = 2\n\npass\n"
    cell, span = program.to_cell(Span(Position(2, 0), Position(2, 5)))
    assert cell.key == "c2" and span == Span(Position(0, 0), Position(0, 5))
    # A whole-line span ending at the next cell's start stays in its cell.
    cell, span = program.to_cell(Span(Position(0, 0), Position(2, 0)))
    assert cell.key == "c1" and span.end == Position(1, len("%time x = 1"))
    assert program.to_cell(Span(Position(0, 0), Position(3, 1))) is None
    assert program.from_cell("c3", Position(0, 2)) == Position(4, 2)


def test_settings_parse_and_errors_name_the_key():
    settings = parse_settings(
        {
            "enable": True,
            "select": ["GG1", "GG2"],
            "severity": {"GG201": "error"},
            "run": "onSave",
            "debounceMs": 0,
            "codeAction.disableRuleComment.enable": False,
            "interpreter": ["/usr/bin/python3"],
            "extraPaths": ["src"],
            "incremental": False,
        }
    )
    assert settings.incremental is False
    assert settings.select == ("GG1", "GG2")
    assert settings.run == "onSave" and settings.debounce_ms == 0
    assert settings.disable_rule_comment is False
    assert settings.interpreter == "/usr/bin/python3" and settings.extra_paths == ("src",)
    bad = parse_settings(
        {"debounceMs": "fast", "select": ["nope"], "colour": 1, "incremental": "yes"},
        origin="init",
    )
    assert bad.debounce_ms == 300 and bad.select is None and bad.incremental is True
    assert any("gradguard.incremental" in e for e in bad.errors)
    assert any("gradguard.debounceMs" in e for e in bad.errors)
    assert any("gradguard.select" in e for e in bad.errors)
    assert any("gradguard.colour" in e and "unknown setting" in e for e in bad.errors)
    assert unwrap({"gradguard": {"run": "onSave"}}) == {"run": "onSave"}


def test_settings_table_is_strict_and_covers_every_field():
    """Each Settings field is one row of the table; cattrs must not coerce values."""
    from dataclasses import fields

    from gradguard.lsp.settings import FIELDS

    assert {row.attr for row in FIELDS} | {"extend_select", "errors"} == {
        f.name for f in fields(Settings)
    }
    assert set(Settings().describe()) == {row.key for row in FIELDS}
    bad = parse_settings(
        {"enable": "yes", "extraPaths": "src", "exclude": [1], "logLevel": "loud", "args": "-q"}
    )
    assert bad == Settings()
    assert len(bad.errors) == 5 and all("using the previous value" in e for e in bad.errors)
    settings = parse_settings(
        {
            "interpreter": "/usr/bin/python3",
            "exclude": ["generated"],
            "configuration": " ci/gradguard.toml ",
            "logLevel": "debug",
            "showNotifications": "onError",
            "showSyntaxErrors": False,
        }
    )
    assert settings.interpreter == "/usr/bin/python3" and settings.exclude == ("generated",)
    assert settings.config_file("/work") == Path("/work/ci/gradguard.toml")
    assert (settings.log_level, settings.show_syntax_errors) == ("debug", False)
    assert settings.shows("error") and not settings.shows("warning")
    assert Settings().shows("warning") and not Settings().shows("info")
    assert parse_settings({"showNotifications": "always"}).shows("info")


def test_settings_args_are_command_line_options():
    settings = parse_settings(
        {
            "args": [
                "--select",
                "GG1,GG2",
                "--extend-select=GG301",
                "--exclude",
                "gen",
                "--config",
                "ci.toml",
            ]
        }
    )
    assert settings.select == ("GG1", "GG2") and settings.extend_select == ("GG301",)
    assert settings.exclude == ("gen",) and settings.configuration == "ci.toml"
    project = Config(select=("GG2",), exclude=("build",))
    combined = settings.apply_to(project)
    enabled = [c for c in ("GG101", "GG201", "GG301", "GG302") if combined.is_enabled(c)]
    assert enabled == ["GG101", "GG201", "GG301"]
    assert combined.exclude == ("build",) and combined.extend_exclude == ("gen",)
    assert parse_settings({"args": ["--select", "GG1"], "select": ["GG4"]}).select == ("GG4",)
    (error,) = parse_settings({"args": ["--fix"]}).errors
    assert "gradguard.args: unrecognized arguments: --fix (the editor takes --select" in error
    (error,) = parse_settings({"args": ["--select", "XX9"]}).errors
    assert "XX9" in error


def test_log_level_setting_sets_the_server_log():
    import logging

    from gradguard.lsp.settings import apply_log_level

    logger = logging.getLogger("gradguard")
    before = logger.level
    try:
        apply_log_level(parse_settings({"logLevel": "debug"}))
        assert logger.isEnabledFor(logging.DEBUG)
        apply_log_level(parse_settings({"logLevel": "error"}))
        assert not logger.isEnabledFor(logging.WARNING)
    finally:
        logger.setLevel(before)


def test_editor_settings_override_the_project_file():
    project = Config(
        select=("GG1",),
        ignore=("GG102",),
        severity=(("GG105", Severity.WARNING), ("GG101", Severity.HINT)),
        exclude=("build",),
    )
    assert Settings().apply_to(project) is project
    combined = Settings(select=("GG",), severity=(("GG101", "error"),)).apply_to(project)
    # The editor's select replaces the project's selection, its ignore included.
    assert combined.is_enabled("GG201") and combined.is_enabled("GG102")
    assert dict(combined.severity) == {"GG105": Severity.WARNING, "GG101": Severity.ERROR}
    assert combined.exclude == ("build",)
    # The editor's ignore removes from the project's selection, as the CLI's --ignore does.
    ignoring = Settings(ignore=("GG101",)).apply_to(project)
    assert not ignoring.is_enabled("GG101") and not ignoring.is_enabled("GG102")
    assert ignoring.is_enabled("GG103") and not ignoring.is_enabled("GG201")


def test_editor_select_and_ignore_mean_what_the_command_line_options_mean(tmp_path):
    """gradguard.select/ignore and --select/--ignore: one function, same rules enabled."""
    from gradguard.cli.analyse import CheckOptions, config_for_file

    (tmp_path / "pyproject.toml").write_text(
        '[tool.gradguard]\nselect = ["GG1", "GG2"]\nignore = ["GG102"]\n'
    )
    path = tmp_path / "train.py"
    project = config_for_file(path, CheckOptions())
    codes = [rule.code for rule in all_rules()]
    for select, ignore in [(None, ("GG201",)), (("GG3",), ()), (("ALL",), ("GG1",)), (None, ())]:
        editor = parse_settings(
            {"select": list(select) if select else None, "ignore": list(ignore) or None}
        ).apply_to(project)
        cli = config_for_file(path, CheckOptions(select=select, ignore=ignore))
        assert [c for c in codes if editor.is_enabled(c)] == [c for c in codes if cli.is_enabled(c)]


def test_editor_severity_keeps_its_valid_entries():
    settings = parse_settings({"severity": {"GG204": "loud", "GG301": "error"}})
    assert settings.severity == (("GG301", "error"),)
    (error,) = settings.errors
    assert "gradguard.severity" in error and "loud" in error and "the other entries apply" in error


def test_client_only_settings_are_accepted_silently():
    """The VS Code client may send its whole section; its own keys are not errors."""
    settings = parse_settings(
        {"importStrategy": "useBundled", "trace": {"server": "off"}, "run": "onSave"},
        origin="init",
    )
    assert settings.errors == () and settings.run == "onSave"


def test_the_server_serialises_diagnostics_exactly_as_pygls_does():
    # Its converter passes a diagnostic's data dict through untouched (for speed).
    import json

    from lsprotocol import types
    from pygls.protocol import default_converter

    from gradguard.lsp.server import server

    data = {"version": 3, "fixes": [{"title": "t", "edits": [{"span": {"start": {"line": 1}}}]}]}
    params = types.PublishDiagnosticsParams(
        uri="file:///t.py",
        version=3,
        diagnostics=[
            types.Diagnostic(
                range=types.Range(types.Position(1, 0), types.Position(1, 4)),
                message="m",
                severity=types.DiagnosticSeverity.Warning,
                code="GG101",
                data=data,
            )
        ],
    )
    converter = server.protocol._converter
    assert converter.unstructure(params)["diagnostics"][0]["data"] is data
    expected = json.dumps(default_converter().unstructure(params))
    assert json.dumps(converter.unstructure(params)) == expected
