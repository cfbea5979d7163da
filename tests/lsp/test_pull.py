"""Pull diagnostics (textDocument/diagnostic) with result ids, and UTF-8/UTF-32
position encodings negotiated with the client."""

from __future__ import annotations

import pytest
import pytest_lsp
from lsp_helpers import CONFIG, GG102_CODE, GG204_CODE, Doc, codes, initialize, wait_for
from lsprotocol import types
from pytest_lsp import LanguageClient

pytestmark = pytest.mark.asyncio(loop_scope="module")

PREFIX = "note = '😀模é'; "
UNICODE = GG102_CODE.replace("model.fc = nn.Linear(4, 2)", PREFIX + "model.fc = nn.Linear(4, 2)")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("pull")


INIT: dict[str, types.InitializeResult] = {}


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient, root):
    # A client like current VS Code: pull diagnostics, code actions resolved lazily.
    INIT["result"] = await initialize(lsp_client, root, pull=True, resolve=True)
    yield
    await lsp_client.shutdown_session()


async def pull(client: LanguageClient, doc: Doc, previous: str | None = None):
    return await client.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(
            text_document=types.TextDocumentIdentifier(uri=doc.uri), previous_result_id=previous
        )
    )


async def test_capabilities_are_advertised(client: LanguageClient, root):
    capabilities = INIT["result"].capabilities
    assert capabilities.diagnostic_provider.identifier == "gradguard"
    assert capabilities.diagnostic_provider.inter_file_dependencies is False
    assert capabilities.position_encoding == "utf-16"
    sync = capabilities.text_document_sync
    assert sync.change == types.TextDocumentSyncKind.Incremental and sync.open_close and sync.save
    assert set(capabilities.code_action_provider.code_action_kinds) == {
        "quickfix",
        "source.fixAll.gradguard",
        "notebook.source.fixAll.gradguard",
    }
    assert capabilities.code_action_provider.resolve_provider is True
    assert capabilities.hover_provider
    assert capabilities.notebook_document_sync.notebook_selector
    assert INIT["result"].server_info.name == "gradguard"


async def test_pull_full_then_unchanged_then_full(client: LanguageClient, root):
    doc = Doc(client, root / "pull.py", GG204_CODE).open()
    report = await pull(client, doc)
    assert report.kind == "full"
    assert codes(report.items) == ["GG204"]
    assert report.result_id
    again = await pull(client, doc, report.result_id)
    assert again.kind == "unchanged"
    assert again.result_id == report.result_id
    doc.replace_all(GG204_CODE.replace("_init_", "__init__"))
    changed = await pull(client, doc, report.result_id)
    assert changed.kind == "full"
    assert list(changed.items) == []
    assert changed.result_id != report.result_id
    # Pull clients get no pushed diagnostics.
    assert doc.uri not in client.recorder.published


async def test_pull_analyses_the_latest_version_after_a_storm(client: LanguageClient, root):
    doc = Doc(client, root / "storm.py", GG204_CODE).open()
    for index in range(30):
        doc.replace_all("\n" * (index % 4) + GG204_CODE)
    report = await pull(client, doc)
    (diagnostic,) = report.items
    assert diagnostic.range.start.line == 5 + 29 % 4
    assert diagnostic.data["version"] == doc.version


async def test_configuration_change_asks_the_client_to_pull_again(client: LanguageClient, root):
    before = client.diagnostic_refresh_count
    client.set_configuration({"ignore": ["GG204"]}, section="gradguard")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={}))
    await wait_for(lambda: client.diagnostic_refresh_count > before)
    doc = Doc(client, root / "after_config.py", GG204_CODE).open()
    assert list((await pull(client, doc)).items) == []
    client.set_configuration({}, section="gradguard")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={}))
    await wait_for(lambda: client.diagnostic_refresh_count > before + 1)


async def test_actions_and_hover_work_in_pull_mode(client: LanguageClient, root):
    doc = Doc(client, root / "pull_actions.py", GG204_CODE).open()
    report = await pull(client, doc)
    titles = [a.title for a in await doc.actions(report.items)]
    assert "GradGuard (GG204): Rename to __init__" in titles
    hover = await doc.hover("_init_", 1)
    assert "misspelled-init" in hover.contents.value


async def test_fix_all_edit_is_resolved_lazily(client: LanguageClient, root):
    # A client with resolve support gets fix-all without its edit (cheap on every
    # cursor move); codeAction/resolve computes it, and applying it fixes the file.
    doc = Doc(client, root / "pull_fix_all.py", GG204_CODE).open()
    report = await pull(client, doc)
    assert codes(report.items) == ["GG204"]
    (lazy,) = await doc.actions([], only=["source.fixAll"])
    assert lazy.edit is None and lazy.data == {"fixAll": doc.uri}
    resolved = await client.code_action_resolve_async(lazy)
    assert resolved.kind == "source.fixAll.gradguard" and resolved.edit is not None
    doc.apply_edit(resolved.edit)
    assert "def __init__(self" in doc.text
    assert codes((await pull(client, doc)).items) == []


@pytest.mark.parametrize("encoding", ["utf-8", "utf-32"])
async def test_negotiated_position_encoding(encoding, root, request):
    """A client preferring UTF-8 or UTF-32 gets ranges in those units."""
    client = CONFIG.client_factory()
    await client.start_io(*CONFIG.server_command, env=CONFIG.server_env)
    try:
        client.set_configuration({"debounceMs": 0}, section="gradguard")
        result = await initialize(client, root, encodings=[encoding, "utf-16"])
        assert result.capabilities.position_encoding == encoding
        doc = Doc(client, root / f"enc_{encoding}.py", UNICODE).open()
        (diagnostic,) = [d for d in await doc.diagnostics() if d.code == "GG102"]
        units = {"utf-8": len(PREFIX.encode("utf-8")), "utf-32": len(PREFIX)}[encoding]
        assert diagnostic.range.start.character == units
        end = units + len("model.fc = nn.Linear(4, 2)")
        assert diagnostic.range.end.character == end
        # Incoming positions are read in the same units: hover on `fc` of that line.
        hover = await client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=doc.uri),
                position=types.Position(line=diagnostic.range.start.line, character=units + 10),
            )
        )
        assert "stale-optimizer" in hover.contents.value
        assert hover.range == diagnostic.range
    finally:
        await client.shutdown_session()
        await client.stop()


async def test_only_recently_analysed_documents_keep_an_incremental_baseline(
    client: LanguageClient, root
):
    """What the next edit's incremental analysis builds on weighs about eight times
    the text: with 100 files open it was most of the server's growth. Only the
    documents analysed last keep it; an edit of an older one is analysed in full."""
    helpers = "".join(f"\n\ndef helper_{i}(x):\n    return x + {i}\n" for i in range(30))
    edited = Doc(client, root / "edited_first.py", GG102_CODE + helpers).open()
    assert "GG102" in codes((await pull(client, edited)).items)

    def touch(doc: Doc, text: str) -> None:
        at = doc.position_of("return x + 5", len("return x + 5"))
        doc.change([(types.Range(start=at, end=at), text)])

    touch(edited, " * 1")
    report = await pull(client, edited)
    assert report.result_id.endswith(":partial")  # the baseline was there
    for index in range(8):  # the server keeps eight
        other = Doc(client, root / f"other_{index}.py", GG204_CODE).open()
        assert codes((await pull(client, other)).items) == ["GG204"]
    touch(edited, " * 1")
    again = await pull(client, edited)
    assert not again.result_id.endswith(":partial")  # analysed in full: no baseline left
    assert "GG102" in codes(again.items)
