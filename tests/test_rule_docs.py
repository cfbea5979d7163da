"""Rule links: the pages ship with the package, every link points at a page that is
really there (``file://`` by default), and ``docs-url`` moves the CLI's links."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import pytest

from gradguard.cli import main
from gradguard.config import config_from_mapping
from gradguard.docs import doc_url, docs_home, pages_dir, render_rule_page, rule_codes
from gradguard.rules import all_rules

BUGGY = textwrap.dedent(
    """\
    import torch.nn as nn


    class Net(nn.Module):
        def _init_(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)
    """
)


def local_file(uri: str) -> Path:
    parsed = urlparse(uri)
    assert parsed.scheme == "file", uri
    return Path(url2pathname(parsed.path))


def test_every_default_link_is_the_rendered_page_on_disk():
    for rule in all_rules():
        page = local_file(doc_url(rule.code))
        assert page.parent == pages_dir()
        assert page.read_text(encoding="utf-8") == render_rule_page(rule)
    assert local_file(docs_home()) == pages_dir()


def test_rule_codes_from_file_names_are_the_registry_s():
    # Links are checked against these codes without importing the rules.
    assert rule_codes() == [rule.code for rule in all_rules()]


def test_docs_url_is_a_base_or_a_template():
    assert doc_url("GG201", "https://example.org/rules/") == "https://example.org/rules/GG201.md"
    assert (
        doc_url("GG201", "https://example.org/r/{code}.html") == "https://example.org/r/GG201.html"
    )
    assert docs_home("https://example.org/r/{code}.html") == "https://example.org/r/"
    assert config_from_mapping({"docs-url": "https://x.org/r"}, "t").docs_url == "https://x.org/r"
    (error,) = config_from_mapping({"docs-url": ""}, "t").errors
    assert error.key == "docs-url"


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "buggy.py").write_text(BUGGY)
    return tmp_path


def check(capsys, *args: str) -> dict:
    main(["check", "--no-resolve", *args, "buggy.py"])
    return json.loads(capsys.readouterr().out)


def test_cli_links_default_to_the_packaged_pages(project, capsys):
    (finding,) = check(capsys, "--format", "json")["findings"]
    assert local_file(finding["url"]).read_text(encoding="utf-8").startswith("# GG204")
    driver = check(capsys, "--format", "sarif")["runs"][0]["tool"]["driver"]
    assert all(local_file(rule["helpUri"]).is_file() for rule in driver["rules"])
    assert local_file(driver["informationUri"]) == pages_dir()


def test_docs_url_setting_moves_json_and_sarif_links(project, capsys):
    (project / "pyproject.toml").write_text(
        '[tool.gradguard]\ndocs-url = "https://docs.example.org/gradguard/rules"\n'
    )
    (finding,) = check(capsys, "--format", "json")["findings"]
    assert finding["url"] == "https://docs.example.org/gradguard/rules/GG204.md"
    driver = check(capsys, "--format", "sarif")["runs"][0]["tool"]["driver"]
    assert driver["informationUri"] == "https://docs.example.org/gradguard/rules"
    assert {r["helpUri"] for r in driver["rules"] if r["id"] == "GG201"} == {
        "https://docs.example.org/gradguard/rules/GG201.md"
    }


def test_rule_command_json_for_tools(project, capsys):
    assert main(["rule", "GG201", "--format", "json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["code"] == "GG201" and info["name"] == "none-assigned-to-parameter"
    assert info["severity"] == "warning" and info["fix"] == "sometimes"
    assert info["page"] == local_file(info["url"]).read_text(encoding="utf-8")
    assert main(["rule", "--all", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["code"] for r in listed] == [rule.code for rule in all_rules()]
    (project / "pyproject.toml").write_text('[tool.gradguard]\ndocs-url = "https://x.org/{code}"\n')
    assert main(["rule", "GG201", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["url"] == "https://x.org/GG201"
