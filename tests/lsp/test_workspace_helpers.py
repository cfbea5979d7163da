"""In the editor, a helper of another workspace module (``replace_head(model)`` from
``utils.py``) is summarised in the background: the keystroke's analysis never parses
``utils.py``, the finding appears once the summary is known, and saving ``utils.py``
brings the call's diagnostics up to date."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from test_reanalysis import FakeHost

from gradguard.lsp.workspace import Workspace
from gradguard.workspace_modules import WorkspaceOnlyResolver
from test_result_cache import FINETUNE, HELPERS


async def _until(condition, seconds: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    for _ in range(int(seconds / 0.02)):
        if condition():
            return True
        await asyncio.sleep(0.02)
    return False


def _codes(workspace: Workspace, uri: str) -> list[str]:
    return [f.code for f in workspace.snapshots[uri].result.findings]


def test_a_helper_replacement_appears_once_summarised_and_follows_saves(tmp_path: Path) -> None:
    (tmp_path / "helpers.py").write_text(HELPERS)

    async def scenario() -> None:
        host = FakeHost(tmp_path)
        workspace = Workspace(host)
        workspace.loop = asyncio.get_running_loop()
        # As the server's resolver does it: in the background, telling the workspace.
        resolver = WorkspaceOnlyResolver(
            str(tmp_path), background=True, on_ready=workspace.answers._resolved_from_thread
        )
        workspace.resolver_for = lambda uri, settings: resolver  # type: ignore[method-assign]
        workspace.answers._resolvers[("test",)] = resolver  # where saves are announced
        workspace.config.settings_ready.set()
        try:
            uri = host.open("finetune.py", FINETUNE)
            first = await workspace.refresh(uri)
            assert first is not None and _codes(workspace, uri) == []  # not parsed inline
            assert "helpers.replace_head" in first.queried
            assert await _until(lambda: "GG102" in _codes(workspace, uri))
            assert resolver.workspace.summarised == 1

            # helpers.py saved without the replacement: the call is no longer reported.
            helpers = tmp_path / "helpers.py"
            helpers.write_text(HELPERS.replace("model.fc = nn.Linear(4, 3)", "print(model)"))
            stat = helpers.stat()
            os.utime(helpers, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
            workspace.answers.file_changed(str(helpers))
            assert await _until(lambda: _codes(workspace, uri) == [])
            assert resolver.workspace.summarised == 2
        finally:
            workspace.shutdown()

    asyncio.run(scenario())
