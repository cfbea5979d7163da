"""Analysing a file never imports or runs workspace code: the engine (with jedi),
the CLI and the server (started with the workspace as its current directory,
as editors do). jedi runs with unsafe extension loading off."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from harness import record
from rawlsp import RawServer

from gradguard.analysis.resolution import SymbolKind
from gradguard.engine import analyze

PAYLOAD = "import pathlib; pathlib.Path(__file__).with_name('MARKER-{name}').write_text('ran')\n"

TRAIN = textwrap.dedent(
    """\
    import torch
    import evil
    from evilpkg import Net
    from evilpkg.factory import build
    from helpers import Model

    model = Net()
    other = build()
    third = Model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.fc = torch.nn.Linear(4, 2)
    evil.run()
    """
)


def make_workspace(root: Path) -> Path:
    """Modules whose import writes MARKER-<name>, imported by train.py; and files
    named like modules GradGuard itself imports (argparse, json, jedi, pygls, ...)."""
    (root / "evil.py").write_text(
        PAYLOAD.format(name="evil") + "import torch\nclass Net(torch.nn.Module): pass\n"
    )
    package = root / "evilpkg"
    package.mkdir()
    (package / "__init__.py").write_text(
        PAYLOAD.format(name="evilpkg") + "from torch import nn\nclass Net(nn.Module): pass\n"
    )
    (package / "factory.py").write_text(
        PAYLOAD.format(name="factory") + "from evilpkg import Net\ndef build():\n    return Net()\n"
    )
    (root / "helpers.py").write_text(
        PAYLOAD.format(name="helpers") + "import evil\nclass Model(evil.Net): pass\n"
    )
    (root / "conftest.py").write_text(PAYLOAD.format(name="conftest"))
    (root / "sitecustomize.py").write_text(PAYLOAD.format(name="sitecustomize"))
    for shadow in ("argparse", "json", "logging", "jedi", "parso", "pygls", "lsprotocol", "torch"):
        (root / f"{shadow}.py").write_text(PAYLOAD.format(name=shadow))
    (root / "evil_ext.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF not really")
    train = root / "train.py"
    train.write_text(TRAIN)
    return train


def markers(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("MARKER-*"))


def test_engine_with_jedi_never_imports_workspace_code(tmp_path):
    import jedi

    from gradguard.resolver import JediResolver

    train = make_workspace(tmp_path)
    # torch.py in the workspace would shadow the real torch for jedi: keep it out here
    # (the server and CLI tests keep it, to prove nothing imports it).
    (tmp_path / "torch.py").unlink()
    resolver = JediResolver(str(tmp_path), timeout=30, mode="blocking")
    try:
        assert resolver.classify("evil.Net", str(train)) is SymbolKind.MODULE_CLASS
        assert resolver.classify("evilpkg.Net", str(train)) is SymbolKind.MODULE_CLASS
        assert resolver.classify("helpers.Model", str(train)) is SymbolKind.MODULE_CLASS
        assert resolver.classify("evilpkg.factory.build", str(train)) is SymbolKind.MODULE_FACTORY
        assert resolver.describe_class("evil.Net", str(train))
        analyze(TRAIN, str(train), resolver=resolver)
        # jedi's own safety settings: no unsafe extensions, nothing auto-imported.
        projects = list(resolver._projects.values())
        assert projects
        for project in projects:
            assert project._load_unsafe_extensions is False
        assert jedi.settings.auto_import_modules == []
    finally:
        resolver.close()
    record("security probes (workspace modules that must never run)", 14)
    assert markers(tmp_path) == []


def test_cli_never_imports_workspace_code(tmp_path):
    train = make_workspace(tmp_path)
    for command in (
        ["check", "train.py"],
        ["check", "--fix", "--unsafe-fixes", "."],
        ["check", "-", "--stdin-filename", "train.py"],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "gradguard", *command],
            input=TRAIN,
            capture_output=True,
            text=True,
            cwd=tmp_path,  # python -m puts the current directory on sys.path
            timeout=120,
            env={**os.environ, "PYTHONPATH": ""},
        )
        assert proc.returncode in (0, 1), proc.stderr
        assert "Traceback" not in proc.stderr
        record("security probes (workspace modules that must never run)", 14)
    assert train.exists()
    assert markers(tmp_path) == []


def test_server_never_imports_workspace_code(tmp_path):
    """Started like the VS Code client starts it: `python -m gradguard server` in
    the workspace folder; jedi resolution on (the default)."""
    train = make_workspace(tmp_path)
    server = RawServer(cwd=tmp_path)
    try:
        server.initialize(tmp_path, options={"gradguard": {"debounceMs": 10}})
        uri = train.as_uri()
        server.open(uri, TRAIN)
        server.wait_published(uri, 1, timeout=30)
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:  # jedi answers land in the background
            hover = server.request(
                "textDocument/hover",
                {"textDocument": {"uri": uri}, "position": {"line": 6, "character": 1}},
            )
            text = str((hover.get("result") or {}).get("contents", ""))
            if "evilpkg" in text:
                break
            time.sleep(0.3)
        server.change(uri, 2, [{"text": TRAIN + "\n"}])
        server.wait_published(uri, 2, timeout=30)
        assert server.stop() == 0
    finally:
        server.kill()
    server.assert_only_protocol_on_stdout()
    record("security probes (workspace modules that must never run)", 14)
    assert markers(tmp_path) == [], server.tail()


@pytest.mark.parametrize("module", ["gradguard", "gradguard.lsp"])
def test_python_dash_m_drops_the_current_directory(tmp_path, module):
    """Regression: `python -m gradguard server` in a folder holding argparse.py ran it."""
    (tmp_path / "argparse.py").write_text(PAYLOAD.format(name="argparse"))
    (tmp_path / "logging.py").write_text(PAYLOAD.format(name="logging"))
    args = ["server"] if module == "gradguard" else []
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        input=b"",
        capture_output=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr  # input closed before shutdown
    assert markers(tmp_path) == []
