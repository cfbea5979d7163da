"""The launch commands docs/server.md documents import nothing from the workspace
folder, even when an editor starts them there (as most editors do).

``python -m`` puts the current directory first on ``sys.path`` and ``runpy`` imports
``warnings`` and ``contextlib`` before any of GradGuard runs, and a workspace
``gradguard.py`` would shadow the package itself; so the documented commands are the
console script and ``python -P -m``.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path

import pytest
from lsp_helpers import GG204_CODE, Doc, capabilities, codes, make_client, server_ready
from lsprotocol import types

DOCS = Path(__file__).resolve().parents[2] / "docs" / "server.md"
SHADOWING = ("warnings", "contextlib", "gradguard", "argparse", "runpy")


def documented_commands() -> list[list[str]]:
    """The ``$ ...`` lines of the first console block that start the server over stdio."""
    block = re.search(r"```console\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert block is not None
    commands = []
    for line in block.group(1).splitlines():
        command = shlex.split(line.removeprefix("$ ").split("#")[0])
        if command and "--tcp" not in command:
            commands.append(command)
    return commands


def runnable(command: list[str]) -> list[str]:
    """The command with ``gradguard`` and ``python`` of this environment."""
    program, *args = command
    if program == "gradguard":
        return [str(Path(sys.executable).with_name("gradguard")), *args]
    assert program == "python", command
    return [sys.executable, *args]


def shadowing_workspace(root: Path) -> None:
    for name in SHADOWING:
        (root / f"{name}.py").write_text(
            f"import os\nprint('workspace {name}.py ran')\n"
            f"open(os.path.join({str(root)!r}, '{name}.ran'), 'w').close()\n"
        )


def test_the_documented_commands_are_the_safe_ones():
    commands = [" ".join(c) for c in documented_commands()]
    assert "gradguard server" in commands
    assert "python -P -m gradguard server" in commands
    assert all(c.startswith("gradguard ") or " -P " in c for c in commands), commands


@pytest.mark.asyncio(loop_scope="function")
@pytest.mark.parametrize("command", documented_commands(), ids=" ".join)
async def test_a_documented_command_imports_nothing_from_the_workspace(tmp_path, command):
    shadowing_workspace(tmp_path)
    client = make_client()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    await client.start_io(*runnable(command), cwd=tmp_path, env=env)
    try:
        await client.initialize_session(
            types.InitializeParams(capabilities=capabilities(), root_uri=tmp_path.as_uri())
        )
        await server_ready(client)
        doc = Doc(client, tmp_path / "train.py", GG204_CODE).open()
        assert codes(await doc.diagnostics()) == ["GG204"]
        await client.shutdown_session()
    finally:
        await client.stop()
    assert sorted(p.name for p in tmp_path.glob("*.ran")) == []
    assert client.error is None  # stdout carried only the protocol
