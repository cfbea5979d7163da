"""Fix-all for a client without ``codeAction/resolve`` (Neovim, Helix, eglot...): the
action carries a command instead of the whole file's edit, and running it makes the
server send the edit with ``workspace/applyEdit``."""

from __future__ import annotations

import json
import textwrap

import pytest
import pytest_lsp
from lsp_helpers import CONFIG, FIX_ALL, Doc, codes, initialize
from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import LanguageClient

pytestmark = pytest.mark.asyncio(loop_scope="module")

MISSPELLED = textwrap.dedent(
    """\
    class Net{n}(nn.Module):
        def _init_(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(x)


    """
)
MANY = "import torch\nfrom torch import nn\n\n\n" + "".join(
    MISSPELLED.format(n=n) for n in range(300)
)


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient, tmp_path_factory):
    root = tmp_path_factory.mktemp("fix_all_command")
    lsp_client.root = root  # type: ignore[attr-defined]
    await initialize(lsp_client, root, apply_edit=True)
    yield
    await lsp_client.shutdown_session()


async def test_fix_all_is_a_small_command_and_its_edit_comes_when_run(client: LanguageClient):
    doc = Doc(client, client.root / "many.py", MANY).open()  # type: ignore[attr-defined]
    assert codes(await doc.diagnostics()).count("GG204") == 300
    (fix_all,) = await doc.actions([], only=[FIX_ALL])
    assert fix_all.edit is None  # not 300 edits with every cursor move
    size = len(json.dumps(default_converter().unstructure(fix_all)))
    assert size < 400, size
    assert fix_all.command is not None
    await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command=fix_all.command.command, arguments=fix_all.command.arguments
        )
    )
    (applied,) = client.recorder.applied  # type: ignore[attr-defined]
    doc.apply_edit(applied.edit)
    assert doc.text.count("def __init__(self):") == 300
    assert "GG204" not in codes(await doc.diagnostics())


async def test_a_fix_all_command_for_an_older_version_does_nothing(client: LanguageClient):
    doc = Doc(client, client.root / "older.py", MANY[:2000]).open()  # type: ignore[attr-defined]
    await doc.diagnostics()
    (fix_all,) = await doc.actions([], only=[FIX_ALL])
    doc.replace_all("\n" + doc.text)
    await doc.diagnostics()
    before = len(client.recorder.applied)  # type: ignore[attr-defined]
    await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command=fix_all.command.command, arguments=fix_all.command.arguments
        )
    )
    assert len(client.recorder.applied) == before  # type: ignore[attr-defined]
