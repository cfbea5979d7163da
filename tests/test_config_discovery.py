"""File discovery (.gitignore, exclude defaults, extend-exclude) and configuration
discovery (nearest file with a [tool.gradguard] table, gradguard.toml)."""

from __future__ import annotations

import pytest

from gradguard.config import Config, config_for, config_from_mapping, with_rule_selection
from test_cli import BUGGY, run


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()
    return tmp_path


def write(path, text=BUGGY):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def checked(capsys, *args: str) -> list[str]:
    _, out, _ = run(capsys, *args)
    return sorted({line.split(":")[0] for line in out.splitlines()})


def test_gitignore_and_ignore_files_are_respected(project, capsys):
    write(project / "src" / "train.py")
    write(project / "generated" / "model.py")
    write(project / "src" / "generated" / "kept.py")
    write(project / "scratch" / "tmp.py")
    write(project / "logs" / "run.py")
    (project / ".gitignore").write_text("/generated\nlogs/\n")  # anchored and directory forms
    (project / "scratch" / ".ignore").write_text("*.py\n")
    assert checked(capsys, ".") == ["src/generated/kept.py", "src/train.py"]
    (project / "pyproject.toml").write_text("[tool.gradguard]\nrespect-gitignore = false\n")
    assert len(checked(capsys, ".")) == 5


def test_exclude_defaults_extend_exclude_and_replacing_exclude(project, capsys):
    write(project / "train.py")
    write(project / "build" / "lib" / "train.py")
    write(project / ".venv" / "site.py")
    write(project / "pkg.egg-info" / "x.py")
    assert checked(capsys, ".") == ["train.py"]
    (project / "pyproject.toml").write_text('[tool.gradguard]\nextend-exclude = ["train.py"]\n')
    assert checked(capsys, ".") == []
    (project / "pyproject.toml").write_text('[tool.gradguard]\nexclude = [".venv"]\n')
    assert checked(capsys, ".") == ["build/lib/train.py", "pkg.egg-info/x.py", "train.py"]


def test_nearest_pyproject_without_a_gradguard_table_is_passed_over(project):
    (project / "pyproject.toml").write_text('[tool.gradguard]\nignore = ["GG204"]\n')
    (project / "sub").mkdir()
    (project / "sub" / "pyproject.toml").write_text('[project]\nname = "sub"\n')
    config = config_for(project / "sub" / "train.py")
    assert not config.is_enabled("GG204") and config.root == str(project)


@pytest.mark.parametrize("name", ["gradguard.toml", ".gradguard.toml"])
def test_gradguard_toml_has_the_same_keys_at_top_level(project, name):
    (project / "pyproject.toml").write_text('[tool.gradguard]\nignore = ["GG1"]\n')
    (project / name).write_text('ignore = ["GG204"]\n')
    config = config_for(project / "train.py")
    assert not config.is_enabled("GG204") and config.is_enabled("GG101")


def test_one_invalid_table_entry_keeps_the_others():
    config = config_from_mapping({"severity": {"GG204": "loud", "GG301": "error"}}, "pyproject")
    assert dict(config.severity) == {"GG301": config.severity[0][1]}
    (error,) = config.errors
    assert "GG204" in str(error) and "entry ignored" in str(error)


def test_unknown_key_gets_a_did_you_mean():
    (error,) = config_from_mapping({"selekt": ["GG1"]}, "pyproject").errors
    assert str(error) == "pyproject [selekt]: unknown setting; did you mean `select`?"


def test_selection_layers_follow_ruff():
    project = config_from_mapping({"select": ["GG1"], "ignore": ["GG101"]}, "p")
    assert not project.is_enabled("GG101") and project.is_enabled("GG102")
    assert not project.is_enabled("GG204")
    # A later layer's extend-select wins over the project's ignore.
    assert with_rule_selection(project, extend_select=("GG101",)).is_enabled("GG101")
    # A select replaces the project's selection and its ignore.
    replaced = with_rule_selection(project, select=("GG2",))
    assert replaced.is_enabled("GG204") and not replaced.is_enabled("GG102")
    # Within a layer, the more specific prefix wins; ALL is the least specific.
    same_layer = config_from_mapping({"select": ["ALL", "GG101"], "ignore": ["GG1"]}, "p")
    assert same_layer.is_enabled("GG101") and not same_layer.is_enabled("GG102")
    assert same_layer.is_enabled("GG204")
    assert not with_rule_selection(Config(), ignore=("ALL",)).is_enabled("GG204")


def test_a_directory_named_explicitly_is_checked_unless_force_exclude(project, capsys):
    write(project / "build" / "gen" / "model.py")
    write(project / "build" / "__pycache__" / "x.py")  # still excluded below the named one
    write(project / "logs" / "run.py")
    (project / ".gitignore").write_text("logs/\n")
    assert checked(capsys, ".") == []
    assert checked(capsys, "build") == ["build/gen/model.py"]
    assert checked(capsys, "logs") == ["logs/run.py"]
    assert checked(capsys, "--force-exclude", "build", "logs") == []
