"""The release artefacts as someone outside this checkout uses them: the wheel that
scripts/release.sh builds (`python -m build`, so from the sdist) installed into a fresh
virtual environment with no package index (its dependencies from dist/wheels), run from a
folder that is not the checkout.

Slow (a build and an install, about half a minute): scripts/test-all.sh runs it with
GRADGUARD_INSTALL_TESTS=1; the everyday suite skips it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    not os.environ.get("GRADGUARD_INSTALL_TESTS"),
    reason="builds and installs the wheel: GRADGUARD_INSTALL_TESTS=1 (scripts/test-all.sh)",
)


def run(*command: str | Path, cwd: Path, **kwargs) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRADGUARD_CACHE_DIR": "off", "PYTHONPATH": ""}
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, **kwargs
    )


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """What ``scripts/release.sh --python-only`` writes (into a temporary folder)."""
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        ["bash", str(ROOT / "scripts" / "release.sh"), "--python-only"],
        cwd=ROOT,
        env={**os.environ, "GRADGUARD_DIST": str(out)},
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    assert len(list(out.glob("gradguard-*-py3-none-any.whl"))) == 1
    assert list(out.glob("gradguard-*.tar.gz")), "no sdist"
    return out


@pytest.fixture(scope="module")
def venv(tmp_path_factory, dist) -> Path:
    """A fresh venv with the wheel installed as the README says, with no package index."""
    home = tmp_path_factory.mktemp("venv")
    assert run(sys.executable, "-m", "venv", home / "env", cwd=home).returncode == 0
    python = home / "env" / "bin" / "python"
    (wheel,) = dist.glob("gradguard-*-py3-none-any.whl")
    offline = ("--no-index", "--find-links", dist / "wheels")
    installed = run(python, "-m", "pip", "install", "--quiet", *offline, wheel, cwd=home)
    assert installed.returncode == 0, installed.stderr
    return home / "env"


@pytest.fixture
def outside(tmp_path) -> Path:
    """A project folder that is not this checkout, holding a copy of the examples."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    return tmp_path


def test_the_installed_command_checks_the_examples(venv, outside):
    result = run(venv / "bin" / "gradguard", "check", "examples/", cwd=outside)
    assert result.returncode == 1, result.stderr
    findings = [line for line in result.stdout.splitlines() if ": GG" in line]
    assert any(
        "examples/finetune_classifier.py:37:5: GG102 [stale-optimizer]" in f for f in findings
    )
    # The same findings, line for line, as this checkout's own gradguard.
    here = run(sys.executable, "-m", "gradguard", "check", "examples/", cwd=outside)
    assert result.stdout == here.stdout and len(findings) >= 16


def test_installed_rule_links_are_pages_inside_the_installed_package(venv, outside):
    result = run(venv / "bin" / "gradguard", "rule", "GG201", "--format", "json", cwd=outside)
    info = json.loads(result.stdout)
    page = Path(url2pathname(urlparse(info["url"]).path))
    assert page.is_file() and venv in page.parents
    assert page.parent.name == "rule_docs" and page.read_text(encoding="utf-8") == info["page"]


def test_installed_server_answers_initialize(venv, outside):
    """`python -P -m gradguard server`, as docs/server.md tells other editors to start it."""
    body = json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}
    )
    messages = [body, json.dumps({"jsonrpc": "2.0", "method": "exit"})]
    stdin = "".join(f"Content-Length: {len(m)}\r\n\r\n{m}" for m in messages).encode()
    result = subprocess.run(
        [venv / "bin" / "python", "-P", "-m", "gradguard", "server"],
        cwd=outside,
        input=stdin,
        capture_output=True,
        timeout=60,
    )
    header, _, rest = result.stdout.partition(b"\r\n\r\n")
    assert header.startswith(b"Content-Length:"), result.stderr
    length = int(header.split(b"\r\n")[0].split(b":")[1])
    reply = json.loads(rest[:length])
    assert reply["id"] == 1 and reply["result"]["serverInfo"]["name"].lower() == "gradguard"


def _readme_pre_commit_config() -> str:
    """The `.pre-commit-config.yaml` snippet exactly as the README shows it."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### pre-commit", 1)[1]
    return section.split("```yaml\n", 1)[1].split("```", 1)[0]


NOTEBOOK_WITH_GG201 = {
    "cells": [
        {
            "cell_type": "code",
            "metadata": {},
            "source": ["import torch\n", "from torch import nn\n", "model = nn.Linear(3, 2)"],
            "outputs": [],
            "execution_count": None,
        },
        {
            "cell_type": "code",
            "metadata": {},
            "source": ["model.weight = None"],
            "outputs": [],
            "execution_count": None,
        },
    ],
    "metadata": {"language_info": {"name": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


@pytest.fixture
def repository(outside) -> Path:
    """A git repository of training code with findings, in a .py file and a notebook."""
    (outside / "notebooks").mkdir()
    (outside / "notebooks" / "explore.ipynb").write_text(json.dumps(NOTEBOOK_WITH_GG201))
    for command in (
        ("git", "init", "-q"),
        ("git", "config", "user.email", "test@example.org"),
        ("git", "config", "user.name", "test"),
        ("git", "add", "."),
        ("git", "commit", "-qm", "training code"),
    ):
        assert run(*command, cwd=outside).returncode == 0
    return outside


def pre_commit(*args: str | Path, cwd: Path, venv: Path, dist: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        # `repo: local` + `language: system` runs the gradguard installed in the environment.
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "PRE_COMMIT_HOME": str(cwd.parent / "pre-commit-home"),
        # try-repo's `language: python` hook installs GradGuard with no package index.
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(dist / "wheels"),
        "GRADGUARD_CACHE_DIR": "off",
    }
    command = [sys.executable, "-m", "pre_commit", *map(str, args)]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_readme_pre_commit_snippet_works_as_written(repository, venv, dist):
    (repository / ".pre-commit-config.yaml").write_text(_readme_pre_commit_config())
    result = pre_commit("run", "--all-files", cwd=repository, venv=venv, dist=dist)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "examples/finetune_classifier.py:37:5: GG102" in result.stdout
    assert "notebooks/explore.ipynb:cell 2:1:1: GG201" in result.stdout  # types_or: jupyter
    # --force-exclude: pre-commit names every file, the project's exclude still applies.
    (repository / "pyproject.toml").write_text(
        '[tool.gradguard]\nextend-exclude = ["examples", "notebooks"]\n'
    )
    result = pre_commit("run", "--all-files", cwd=repository, venv=venv, dist=dist)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "GG" not in result.stdout.replace("gradguard", "")


def test_pre_commit_hooks_yaml_with_try_repo(repository, venv, dist):
    result = pre_commit(
        "try-repo", ROOT, "gradguard", "--all-files", cwd=repository, venv=venv, dist=dist
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "examples/finetune_classifier.py:37:5: GG102" in result.stdout
    assert "notebooks/explore.ipynb:cell 2:1:1: GG201" in result.stdout
