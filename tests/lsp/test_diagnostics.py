"""Push diagnostics: open, change, save, close, stale versions, edit storms, UTF-16."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import pytest
from lsp_helpers import (
    CLEAN_CODE,
    GG102_CODE,
    GG204_CODE,
    Doc,
    codes,
    range_text,
    wait_for,
    wait_published,
)
from lsprotocol import types
from pytest_lsp import LanguageClient

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module")
def root(shared_root):
    return shared_root


@pytest.fixture
def client(shared_client: LanguageClient) -> LanguageClient:
    return shared_client


async def test_open_reports_with_range_code_and_metadata(client: LanguageClient, root):
    doc = Doc(client, root / "open.py", GG204_CODE).open()
    diagnostics = await doc.diagnostics()
    assert codes(diagnostics) == ["GG204"]
    diagnostic = diagnostics[0]
    assert range_text(doc.text, diagnostic.range) == "_init_"
    assert diagnostic.source == "gradguard"
    assert diagnostic.severity == types.DiagnosticSeverity.Error
    # The link is the page that is really there (this checkout's; an installed copy's own).
    page = Path(url2pathname(urlparse(diagnostic.code_description.href).path))
    assert page.name == "GG204.md" and page.read_text().startswith("# GG204 `misspelled-init`")
    assert diagnostic.data["version"] == 1
    assert diagnostic.data["fixes"][0]["safety"] == "safe"


async def test_related_information_points_at_the_optimizer(client: LanguageClient, root):
    doc = Doc(client, root / "related.py", GG102_CODE).open()
    (diagnostic,) = [d for d in await doc.diagnostics() if d.code == "GG102"]
    assert range_text(doc.text, diagnostic.range) == "model.fc = nn.Linear(4, 2)"
    (related,) = diagnostic.related_information
    assert related.location.uri == doc.uri
    assert range_text(doc.text, related.location.range).startswith("optimizer = torch.optim.SGD(")


async def test_change_save_and_close(client: LanguageClient, root):
    doc = Doc(client, root / "change.py", CLEAN_CODE).open()
    assert await doc.diagnostics() == []
    doc.replace_all(GG204_CODE)
    assert codes(await doc.diagnostics()) == ["GG204"]
    # Fix the name by hand: an incremental change inside the line.
    start = doc.position_of("_init_")
    end = doc.position_of("_init_", len("_init_"))
    doc.change([(types.Range(start=start, end=end), "__init__")])
    assert await doc.diagnostics() == []
    doc.save()
    await asyncio.sleep(0.1)
    assert list(client.diagnostics[doc.uri]) == []
    doc.replace_all(GG204_CODE)
    assert codes(await doc.diagnostics()) == ["GG204"]
    doc.close()
    await wait_published(client, doc.uri, None)
    assert await _last_published(client, doc.uri) == []


async def _last_published(client, uri):
    await asyncio.sleep(0.1)
    return list(client.recorder.published[uri][-1].diagnostics)


async def test_storm_of_edits_ends_with_the_final_text(client: LanguageClient, root):
    doc = Doc(client, root / "storm.py", CLEAN_CODE).open()
    await doc.diagnostics()
    texts = [GG204_CODE, CLEAN_CODE, GG102_CODE, "x = (", GG204_CODE + "\n# tail\n"]
    for index in range(60):
        doc.replace_all(texts[index % len(texts)])
    final = GG102_CODE.replace("model.fc = nn.Linear(4, 2)", "model.fc = nn.Linear(4, 3)")
    doc.replace_all(final)
    diagnostics = await doc.diagnostics()
    assert codes(diagnostics) == ["GG102"]
    assert range_text(doc.text, diagnostics[0].range) == "model.fc = nn.Linear(4, 3)"
    # Nothing was published for a version older than one already published.
    versions = [p.version for p in client.recorder.published[doc.uri]]
    assert versions == sorted(versions)
    assert len(versions) < 20, versions  # debounced, not one analysis per keystroke


async def test_stale_results_are_never_published(client: LanguageClient, root):
    """Each publish carries the version it was computed for, and its ranges fit that
    version's text: a result computed for an old version is dropped."""
    doc = Doc(client, root / "stale.py", GG204_CODE).open()
    await doc.diagnostics()
    texts = {}
    for index in range(15):
        doc.replace_all("\n" * index + GG204_CODE)
        texts[doc.version] = doc.text
        await asyncio.sleep(0.01)
    await doc.diagnostics()
    for params in client.recorder.published[doc.uri]:
        if params.version in texts:
            for diagnostic in params.diagnostics:
                assert range_text(texts[params.version], diagnostic.range) == "_init_"


async def test_utf16_ranges_after_emoji_and_cjk(client: LanguageClient, root):
    code = GG204_CODE.replace(
        "    def _init_(self):", "    def _init_(self): pass; s = '🔥模型'\n    def unused(self):"
    ).replace("class Net(nn.Module):", "class Net(nn.Module):  # 模型 🔥🔥")
    code = code.replace("model = Net()", "说明 = '🔥'; model = Net(); x = 1")
    code += "optimizer = torch.optim.SGD([], lr=0.1); bad = '😀'; model.fc = nn.Linear(4, 2)\n"
    doc = Doc(client, root / "unicode.py", code).open()
    diagnostics = await doc.diagnostics()
    assert "GG204" in codes(diagnostics)
    for diagnostic in diagnostics:
        if diagnostic.code == "GG204":
            assert range_text(doc.text, diagnostic.range) == "_init_"


async def test_utf16_range_on_the_flagged_line_itself(client: LanguageClient, root):
    code = GG102_CODE.replace(
        "model.fc = nn.Linear(4, 2)", "note = '😀模型'; model.fc = nn.Linear(4, 2)"
    )
    doc = Doc(client, root / "unicode_line.py", code).open()
    (diagnostic,) = [d for d in await doc.diagnostics() if d.code == "GG102"]
    line = doc.text.splitlines()[diagnostic.range.start.line]
    assert line.startswith("note = '😀模型'")
    # 😀 is two UTF-16 code units: the server's character offset counts it as two.
    assert diagnostic.range.start.character == len("note = '😀模型'; ".encode("utf-16-le")) // 2
    assert range_text(doc.text, diagnostic.range) == "model.fc = nn.Linear(4, 2)"


async def test_syntax_errors_clear_findings(client: LanguageClient, root):
    doc = Doc(client, root / "syntax.py", GG204_CODE).open()
    assert codes(await doc.diagnostics()) == ["GG204"]
    doc.replace_all(GG204_CODE + "\ndef broken(:\n")
    # No rule ran: the findings go, and one error says where the file stops parsing
    # (gradguard.showSyntaxErrors, on by default; tests/lsp/test_settings.py turns it off).
    (error,) = await doc.diagnostics()
    assert error.code is None and error.severity == types.DiagnosticSeverity.Error
    assert error.message.startswith("syntax error: invalid syntax")
    assert doc.text.splitlines()[error.range.start.line] == "def broken(:"
    assert range_text(doc.text, error.range) == ":"  # where the parser stopped


async def test_a_change_not_newer_than_the_document_is_refused(client: LanguageClient, root):
    """Versions only increase: a change marked older than the document (reordered or
    replayed) is neither applied nor published after the newer one."""
    doc = Doc(client, root / "older_version.py", CLEAN_CODE).open()
    assert await doc.diagnostics() == []
    doc.version = 4
    doc.replace_all(GG102_CODE)  # version 5
    assert "GG102" in codes(await doc.diagnostics())
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=doc.uri, version=3),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=CLEAN_CODE)],
        )
    )
    # The next change edits version 5's text, as the client holds it.
    doc.change(
        [(types.Range(start=doc.position_of("for step"), end=doc.position_of("for step")), "\n")]
    )
    assert "GG102" in codes(await doc.diagnostics())  # version 6: the v3 text was not applied
    published = [p.version for p in client.recorder.published[doc.uri]]  # type: ignore[attr-defined]
    assert 3 not in published
    assert published == sorted(published)


async def test_a_lone_surrogate_keeps_the_findings_and_is_reported(client: LanguageClient, root):
    """A client may send a lone UTF-16 surrogate (``\\ud800`` in JSON): the document is
    analysed with it as U+FFFD, positions after it on its line stay right, and the
    user is told once."""
    code = GG102_CODE.replace(
        "model.fc = nn.Linear(4, 2)\n", "model.fc = nn.Linear(4, 2)  # \ud800 odd\n"
    ).replace("model = Net()\n", "model = Net()  # \ud800\n")
    doc = Doc(client, root / "surrogate.py", code).open()
    diagnostics = await doc.diagnostics()
    assert codes(diagnostics) == ["GG102"]
    assert range_text(doc.text, diagnostics[0].range).startswith("model.fc = nn.Linear(4, 2)")
    await wait_for(lambda: any("surrogate.py" in m.message for m in client.messages))
    (shown,) = [m for m in client.messages if "surrogate.py" in m.message]
    assert "lone surrogate" in shown.message and "U+D800" in shown.message
    assert ":14:" in shown.message  # the first line holding one
    text = doc.text
    doc.change(
        [(types.Range(start=doc.position_of("for step"), end=doc.position_of("for step")), "\n")]
    )
    assert codes(await doc.diagnostics()) == ["GG102"]
    assert doc.text.startswith(text[:10])
    assert [m for m in client.messages if "surrogate.py" in m.message] == [shown]  # once


BUFFER_ONLY_MODEL = """\
import torch
from torch import nn


class FixedScale(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("weight", torch.ones(4))


def build_optimizer(lr):
    model = FixedScale()
    return torch.optim.SGD(model.parameters(), lr=lr)
"""


async def test_a_model_whose_weights_are_buffers_is_reported_with_the_buffer(
    client: LanguageClient, root
):
    doc = Doc(client, root / "buffers.py", BUFFER_ONLY_MODEL).open()
    (diagnostic,) = [d for d in await doc.diagnostics() if d.code == "GG101"]
    assert range_text(doc.text, diagnostic.range) == "torch.optim.SGD(model.parameters(), lr=lr)"
    assert "optimizer got an empty parameter list" in diagnostic.message
    (related,) = diagnostic.related_information
    assert range_text(doc.text, related.location.range).startswith("self.register_buffer(")


CONFIGURED_BIAS = """\
import torch
from torch import nn

INITS = {"zeros": nn.init.zeros_, "normal": nn.init.normal_}


class Head(nn.Module):
    def __init__(self, features, bias=True):
        super().__init__()
        self.fc = nn.Linear(features, 10, bias=bias)
        init = INITS["zeros"]
        init(self.fc.bias)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = Head(64, bias=True)
"""


async def test_a_flag_passed_by_another_class_reaches_the_init_call(client: LanguageClient, root):
    doc = Doc(client, root / "configured_bias.py", CONFIGURED_BIAS).open()
    assert codes(await doc.diagnostics()) == []
    line = CONFIGURED_BIAS.splitlines().index("        self.head = Head(64, bias=True)")
    start = types.Position(line=line, character=len("        self.head = Head(64, bias="))
    end = types.Position(line=line, character=start.character + len("True"))
    doc.change([(types.Range(start=start, end=end), "False")])
    (diagnostic,) = await doc.diagnostics()
    assert diagnostic.code == "GG304"
    assert range_text(doc.text, diagnostic.range) == "init(self.fc.bias)"
    assert "with `bias=False` (from line 18)" in diagnostic.message


async def test_a_helper_of_another_module_is_followed_once_summarised(client: LanguageClient, root):
    """``replace_head(model)`` from ``helpers.py`` (on disk, not open): its summary is
    made in the background, then the call is reported; saving ``helpers.py`` without the
    replacement clears it."""
    from test_result_cache import FINETUNE, HELPERS

    folder = root / "helper_modules"
    folder.mkdir()
    (folder / "helpers.py").write_text(HELPERS)
    doc = Doc(client, folder / "finetune.py", FINETUNE).open()

    def published() -> list[str]:
        history = client.recorder.published.get(doc.uri, [])  # type: ignore[attr-defined]
        return codes(history[-1].diagnostics) if history else []

    await wait_for(lambda: "GG102" in published(), timeout=30)
    helper = Doc(client, folder / "helpers.py", HELPERS).open()
    helper.replace_all(HELPERS.replace("model.fc = nn.Linear(4, 3)", "print(model)"))
    (folder / "helpers.py").write_text(helper.text)  # what the editor writes on save
    helper.save()
    await wait_for(lambda: "GG102" not in published(), timeout=30)
    helper.close()
    doc.close()
