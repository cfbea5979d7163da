"""Client-side helpers for the end-to-end language server tests.

Everything here is what an editor does, written independently of the server's
own conversion code: UTF-16 arithmetic, applying TextEdits, waiting for
diagnostics of a given version.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig, LanguageClient
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

SERVER_COMMAND = [sys.executable, "-m", "gradguard", "server"]
FIX_ALL = "source.fixAll.gradguard"

# -- sample programs ----------------------------------------------------------------

GG204_CODE = textwrap.dedent(
    """\
    import torch
    from torch import nn


    class Net(nn.Module):
        def _init_(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(x)


    model = Net()
    """
)

GG102_CODE = textwrap.dedent(
    """\
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(x)


    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.fc = nn.Linear(4, 2)
    for step in range(3):
        optimizer.zero_grad()
        loss = model(torch.randn(8, 4)).sum()
        loss.backward()
        optimizer.step()
    """
)

GG201_CODE = textwrap.dedent(
    """\
    import torch
    from torch import nn

    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.bias = None
    loss = model(torch.randn(8, 4)).sum()
    """
)

CLEAN_CODE = textwrap.dedent(
    """\
    import torch
    from torch import nn

    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    """
)


# -- client ---------------------------------------------------------------------------


class Recorder:
    """Every publishDiagnostics and registration the client received."""

    def __init__(self) -> None:
        self.published: dict[str, list[types.PublishDiagnosticsParams]] = {}
        self.registrations: list[types.Registration] = []
        self.applied: list[types.ApplyWorkspaceEditParams] = []


def _client_converter() -> Any:
    """lsprotocol's converter, except that a code action result item is told apart as
    editors do (LSP: a ``Command``'s ``command`` is a string, a ``CodeAction``'s an
    object); lsprotocol takes a code action carrying a command for a ``Command``."""
    converter = default_converter()

    def action_or_command(obj: Any, _: Any) -> types.Command | types.CodeAction:
        kind = types.Command if isinstance(obj.get("command"), str) else types.CodeAction
        return converter.structure(obj, kind)

    converter.register_structure_hook(types.Command | types.CodeAction, action_or_command)
    return converter


def make_client() -> LanguageClient:
    client = LanguageClient(converter_factory=_client_converter)
    recorder = Recorder()
    client.recorder = recorder  # type: ignore[attr-defined]

    def publish(client: LanguageClient, params: types.PublishDiagnosticsParams) -> None:
        client.diagnostics[params.uri] = params.diagnostics
        recorder.published.setdefault(params.uri, []).append(params)

    def register(client: LanguageClient, params: types.RegistrationParams) -> None:
        recorder.registrations.extend(params.registrations)

    def apply_edit(
        client: LanguageClient, params: types.ApplyWorkspaceEditParams
    ) -> types.ApplyWorkspaceEditResult:
        recorder.applied.append(params)  # the test applies it to its Doc
        return types.ApplyWorkspaceEditResult(applied=True)

    features = dict(DEFAULT_CLIENT_FEATURES)
    features[types.WORKSPACE_APPLY_EDIT] = apply_edit
    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = publish
    features[types.CLIENT_REGISTER_CAPABILITY] = register
    register_lsp_features(client, features)
    return client


CONFIG = ClientServerConfig(
    server_command=SERVER_COMMAND,
    client_factory=make_client,
    server_env={
        "PYTHONUNBUFFERED": "1",
        "GRADGUARD_LOG_LEVEL": os.environ.get("GRADGUARD_LOG_LEVEL", "INFO"),
    },
)


def capabilities(
    *,
    pull: bool = False,
    encodings: list[str] | None = None,
    resolve: bool = False,
    apply_edit: bool = False,
) -> types.ClientCapabilities:
    return types.ClientCapabilities(
        general=types.GeneralClientCapabilities(
            position_encodings=[types.PositionEncodingKind(e) for e in encodings]
        )
        if encodings
        else None,
        workspace=types.WorkspaceClientCapabilities(
            apply_edit=apply_edit or None,
            configuration=True,
            workspace_edit=types.WorkspaceEditClientCapabilities(document_changes=True),
            did_change_configuration=types.DidChangeConfigurationClientCapabilities(
                dynamic_registration=True
            ),
            did_change_watched_files=types.DidChangeWatchedFilesClientCapabilities(
                dynamic_registration=True
            ),
            diagnostics=types.DiagnosticWorkspaceClientCapabilities(refresh_support=True)
            if pull
            else None,
        ),
        text_document=types.TextDocumentClientCapabilities(
            synchronization=types.TextDocumentSyncClientCapabilities(did_save=True),
            hover=types.HoverClientCapabilities(content_format=[types.MarkupKind.Markdown]),
            code_action=types.CodeActionClientCapabilities(
                code_action_literal_support=types.ClientCodeActionLiteralOptions(
                    code_action_kind=types.ClientCodeActionKindOptions(
                        value_set=[types.CodeActionKind.QuickFix, types.CodeActionKind.Source]
                    )
                ),
                is_preferred_support=True,
                data_support=True,
                resolve_support=types.ClientCodeActionResolveOptions(properties=["edit"])
                if resolve
                else None,
            ),
            publish_diagnostics=types.PublishDiagnosticsClientCapabilities(
                related_information=True,
                version_support=True,
                code_description_support=True,
                data_support=True,
            ),
            diagnostic=types.DiagnosticClientCapabilities() if pull else None,
        ),
        notebook_document=types.NotebookDocumentClientCapabilities(
            synchronization=types.NotebookDocumentSyncClientCapabilities()
        ),
    )


async def initialize(
    client: LanguageClient,
    root: Path,
    *,
    pull: bool = False,
    encodings: list[str] | None = None,
    options: Any = None,
    folders: list[Path] | None = None,
    resolve: bool = False,
    apply_edit: bool = False,
) -> types.InitializeResult:
    folders = folders or [root]
    result = await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities(
                pull=pull, encodings=encodings, resolve=resolve, apply_edit=apply_edit
            ),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=f.as_uri(), name=f.name) for f in folders],
            initialization_options=options,
        )
    )
    await server_ready(client)
    return result


async def server_ready(client: LanguageClient, timeout: float = 60.0) -> None:
    """``initialize`` is answered before the server has imported pygls
    (gradguard.lsp.early); its first log line (sent on ``initialized``) says it has, so
    that the timed waits which follow time what they test, not the imports."""
    deadline = time.monotonic() + timeout
    while not client.log_messages:
        assert time.monotonic() < deadline, "the server sent no log line after initialized"
        await asyncio.sleep(0.02)


# -- documents ----------------------------------------------------------------------------


class Doc:
    """One open document: its text and version as the client sees them."""

    def __init__(self, client: LanguageClient, path: Path, text: str) -> None:
        self.client = client
        self.path = path
        self.uri = path.as_uri()
        self.text = text
        self.version = 1

    def open(self) -> Doc:
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=self.uri, language_id="python", version=self.version, text=self.text
                )
            )
        )
        return self

    def replace_all(self, text: str) -> None:
        end = utf16_position(self.text, len(self.text))
        self.change([(types.Range(start=types.Position(line=0, character=0), end=end), text)])

    def change(self, changes: list[tuple[types.Range, str]]) -> None:
        """Incremental changes, applied in order (as LSP specifies)."""
        for range_, new_text in changes:
            self.text = apply_utf16_edits(
                self.text, [types.TextEdit(range=range_, new_text=new_text)]
            )
        self.version += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=self.uri, version=self.version
                ),
                content_changes=[
                    types.TextDocumentContentChangePartial(range=r, text=t) for r, t in changes
                ],
            )
        )

    def apply_edit(self, edit: types.WorkspaceEdit) -> None:
        """Apply a workspace edit the way an editor does: refuse a stale version."""
        assert edit.document_changes, edit
        for change in edit.document_changes:
            assert isinstance(change, types.TextDocumentEdit)
            assert change.text_document.uri == self.uri
            assert change.text_document.version == self.version, "stale edit"
            edits = [e for e in change.edits if isinstance(e, types.TextEdit)]
            # Send them as one didChange of incremental changes, last edit first so
            # earlier ranges stay valid.
            ordered = sorted(
                edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True
            )
            self.change([(e.range, e.new_text) for e in ordered])

    def save(self) -> None:
        self.client.text_document_did_save(
            types.DidSaveTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=self.uri)
            )
        )

    def close(self) -> None:
        self.client.text_document_did_close(
            types.DidCloseTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=self.uri)
            )
        )

    def position_of(self, needle: str, offset: int = 0, occurrence: int = 0) -> types.Position:
        index = -1
        for _ in range(occurrence + 1):
            index = self.text.index(needle, index + 1)
        return utf16_position(self.text, index + offset)

    async def diagnostics(self, timeout: float = 10.0) -> list[types.Diagnostic]:
        """Push diagnostics published for the current version."""
        return await wait_published(self.client, self.uri, self.version, timeout)

    async def hover(self, needle: str, offset: int = 0, occurrence: int = 0) -> types.Hover | None:
        return await self.client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=self.uri),
                position=self.position_of(needle, offset, occurrence),
            )
        )

    async def actions(
        self, diagnostics: list[types.Diagnostic], only: list[str] | None = None, range_=None
    ) -> list[types.CodeAction]:
        if range_ is None:
            range_ = (
                diagnostics[0].range
                if diagnostics
                else types.Range(
                    start=types.Position(line=0, character=0),
                    end=types.Position(line=0, character=0),
                )
            )
        result = await self.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=self.uri),
                range=range_,
                context=types.CodeActionContext(
                    diagnostics=diagnostics,
                    only=[types.CodeActionKind(k) if k in _KINDS else k for k in only]
                    if only
                    else None,
                ),
            )
        )
        return [a for a in result or [] if isinstance(a, types.CodeAction)]


_KINDS = {k.value for k in types.CodeActionKind}


async def wait_published(
    client: LanguageClient, uri: str, version: int | None, timeout: float = 10.0
) -> list[types.Diagnostic]:
    recorder: Recorder = client.recorder  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        history = recorder.published.get(uri, [])
        for params in reversed(history):
            if version is None or params.version == version:
                return list(params.diagnostics)
        await asyncio.sleep(0.01)
    raise AssertionError(
        f"no diagnostics for {uri} version {version}; got versions "
        f"{[p.version for p in recorder.published.get(uri, [])]}"
    )


async def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError("condition not met in time")


# -- UTF-16 arithmetic (client side) ------------------------------------------------------

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _line_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in _LINE_BREAK.finditer(text)]


def utf16_position(text: str, offset: int) -> types.Position:
    starts = _line_starts(text)
    line = max(i for i, s in enumerate(starts) if s <= offset)
    prefix = text[starts[line] : offset]
    return types.Position(
        line=line, character=len(prefix.encode("utf-16-le", "surrogatepass")) // 2
    )


def utf16_offset(text: str, position: types.Position) -> int:
    starts = _line_starts(text)
    if position.line >= len(starts):
        return len(text)
    start = starts[position.line]
    end = starts[position.line + 1] if position.line + 1 < len(starts) else len(text)
    line = text[start:end].rstrip("\r\n")
    encoded = line.encode("utf-16-le", "surrogatepass")[: position.character * 2]
    return start + len(encoded.decode("utf-16-le", "surrogatepass"))


def apply_utf16_edits(text: str, edits: list[types.TextEdit]) -> str:
    spans = sorted(
        (
            (utf16_offset(text, e.range.start), utf16_offset(text, e.range.end), e.new_text)
            for e in edits
        ),
        reverse=True,
    )
    for start, end, new_text in spans:
        text = text[:start] + new_text + text[end:]
    return text


def range_text(text: str, range_: types.Range) -> str:
    return text[utf16_offset(text, range_.start) : utf16_offset(text, range_.end)]


def codes(diagnostics: list[types.Diagnostic]) -> list[str]:
    return sorted(str(d.code) for d in diagnostics)
