"""``initialize`` is answered before pygls and lsprotocol are imported
(gradguard.lsp.early): the answer is the one pygls computes, it is sent once, the
server is then initialized exactly as before, and anything else first is left to
the server's reader."""

from __future__ import annotations

import json
import time

import pytest
from rawlsp import RawServer

from gradguard.lsp import early

GG204_CODE = """\
import torch
from torch import nn


class Net(nn.Module):
    def _init_(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
"""

CLIENTS = {
    "no capabilities": {},
    "the raw client": {"textDocument": {"publishDiagnostics": {"versionSupport": True}}},
    "utf-8 preferred": {"general": {"positionEncodings": ["utf-8", "utf-16"]}},
    "unknown encodings first": {"general": {"positionEncodings": ["utf-7", "utf-32"]}},
    "only unknown encodings": {"general": {"positionEncodings": ["latin-1"]}},
    "empty general": {"general": {}},
    "notebooks": {"notebookDocument": {"synchronization": {"dynamicRegistration": True}}},
    "file operations": {"workspace": {"fileOperations": {"didCreate": True, "willRename": True}}},
    "will save": {"textDocument": {"synchronization": {"willSave": True}}},
    "will save wait until": {
        "textDocument": {"synchronization": {"willSave": False, "willSaveWaitUntil": True}}
    },
    "vs code": {
        "general": {"positionEncodings": ["utf-16"]},
        "textDocument": {
            "synchronization": {"dynamicRegistration": True, "willSave": True, "didSave": True},
            "codeAction": {"resolveSupport": {"properties": ["edit"]}},
            "diagnostic": {"dynamicRegistration": True, "relatedDocumentSupport": False},
        },
        "workspace": {"configuration": True, "workspaceFolders": True},
        "notebookDocument": {"synchronization": {"executionSummarySupport": True}},
    },
}


def _pygls_result(capabilities: dict) -> dict:
    """What pygls' ``lsp_initialize`` computes for GradGuard's handler table."""
    from lsprotocol import types
    from pygls.capabilities import ServerCapabilitiesBuilder

    from gradguard.lsp.server import server

    converter = server.protocol._converter
    client = converter.structure(capabilities, types.ClientCapabilities)
    features = server.protocol.fm
    built = ServerCapabilitiesBuilder(
        client,
        set({**features.features, **features.builtin_features}),
        features.feature_options,
        list(features.commands),
        server._text_document_sync_kind,
        server._notebook_document_sync,
        ServerCapabilitiesBuilder.choose_position_encoding(client),
    ).build()
    result = types.InitializeResult(capabilities=built, server_info=server.protocol.server_info)
    return json.loads(json.dumps(converter.unstructure(result)))  # as pygls sends it


@pytest.mark.parametrize("capabilities", CLIENTS.values(), ids=CLIENTS.keys())
def test_the_early_answer_is_the_one_pygls_computes(capabilities):
    params = {"processId": None, "rootUri": None, "capabilities": capabilities}
    assert early.initialize_result(params) == _pygls_result(capabilities)


def _initialize_body(ident: int = 100, capabilities: dict | None = None) -> bytes:
    params = {"processId": None, "rootUri": None, "capabilities": capabilities or {}}
    message = {"jsonrpc": "2.0", "id": ident, "method": "initialize", "params": params}
    return json.dumps(message).encode()


def _responses(server: RawServer, ident: int) -> list[dict]:
    return [m for m in server.objects() if "method" not in m and m.get("id") == ident]


def _works(server: RawServer, tmp_path) -> None:
    """Initialized as before: a document opened gets its diagnostics, and shutdown."""
    server.send("initialized", {})
    path = tmp_path / "net.py"
    path.write_text(GG204_CODE, encoding="utf-8")
    document = {"uri": path.as_uri(), "languageId": "python", "version": 1, "text": GG204_CODE}
    server.send("textDocument/didOpen", {"textDocument": document})
    diagnostics = server.wait_published(path.as_uri(), 1)
    assert [d["code"] for d in diagnostics] == ["GG204"]
    assert "error" not in server.request("shutdown")
    server.send("exit")
    assert server.process.wait(timeout=15) == 0


def test_initialize_is_answered_once_and_the_session_goes_on(tmp_path):
    server = RawServer(cwd=tmp_path)
    try:
        capabilities = {"general": {"positionEncodings": ["utf-8"]}}
        server.frame(_initialize_body(107, capabilities))
        answer = server.wait_for(lambda m: m.get("id") == 107)
        params = {"capabilities": capabilities}
        assert answer == {"jsonrpc": "2.0", "id": 107, "result": early.initialize_result(params)}
        _works(server, tmp_path)
        assert len(_responses(server, 107)) == 1
    finally:
        server.kill()
    server.assert_only_protocol_on_stdout()
    assert b"differs from pygls'" not in server.stderr


def test_initialize_arriving_in_pieces_is_answered_early(tmp_path):
    server = RawServer(cwd=tmp_path)
    try:
        data = b"Content-Length: %d\r\n\r\n" % len(_initialize_body()) + _initialize_body()
        for piece in (data[:7], data[7:40], data[40:]):
            server.write(piece)
            time.sleep(0.05)  # shorter than early.PAUSE_S
        server.wait_for(lambda m: m.get("id") == 100)
        _works(server, tmp_path)
        assert len(_responses(server, 100)) == 1
    finally:
        server.kill()
    server.assert_only_protocol_on_stdout()


@pytest.mark.parametrize(
    "first",
    [
        lambda body: b"Content-Length: %d\r\n\r\n" % (len(body) + 30) + body,
        lambda body: b"Content-Length: abc\r\n\r\n" + body,
        lambda body: b"\r\n" + b"Content-Length: %d\r\n\r\n" % len(body) + body,
    ],
    ids=["too-long", "non-numeric", "whitespace-first"],
)
def test_a_framing_fault_in_initialize_is_left_to_the_reader(tmp_path, first):
    server = RawServer(cwd=tmp_path)
    try:
        server.write(first(_initialize_body()))
        answer = server.wait_for(lambda m: m.get("id") == 100)
        assert answer["result"] == early.initialize_result({"capabilities": {}})
        _works(server, tmp_path)
        assert len(_responses(server, 100)) == 1
    finally:
        server.kill()
    server.assert_only_protocol_on_stdout()


def test_another_request_first_is_answered_by_pygls_and_initialize_early_is_not(tmp_path):
    server = RawServer(cwd=tmp_path)
    try:
        server.send("workspace/symbol", {"query": "x"}, request=True)  # id 1
        server.wait_for(lambda m: m.get("id") == 1)
        server.frame(_initialize_body(102))
        assert server.wait_for(lambda m: m.get("id") == 102)["result"]["capabilities"]
        _works(server, tmp_path)
        assert len(_responses(server, 102)) == 1
    finally:
        server.kill()
    server.assert_only_protocol_on_stdout()


def test_params_pygls_refuses_after_the_early_answer_stop_the_server(tmp_path):
    server = RawServer(cwd=tmp_path)
    try:
        server.frame(_initialize_body(100, {"textDocument": {"hover": 5}}))
        server.wait_for(lambda m: m.get("id") == 100)
        server.send("initialized", {})
        assert server.process.wait(timeout=30) == 1
    finally:
        server.kill()
    server.assert_only_protocol_on_stdout()
    assert b"initialize failed after it was answered" in server.stderr


def test_input_closed_after_the_early_answer_ends_the_server(tmp_path):
    server = RawServer(cwd=tmp_path)
    try:
        server.frame(_initialize_body())
        server.wait_for(lambda m: m.get("id") == 100)
        assert server.process.stdin is not None
        server.process.stdin.close()
        assert server.process.wait(timeout=30) == 1  # no shutdown request came
    finally:
        server.kill()
    server.assert_only_protocol_on_stdout()


def test_input_closed_before_any_message_ends_the_server_at_once(tmp_path):
    server = RawServer(cwd=tmp_path)
    try:
        assert server.process.stdin is not None
        server.process.stdin.close()
        assert server.process.wait(timeout=30) == 1
    finally:
        server.kill()
    assert b"the input closed before any message" in server.stderr
    assert b"language server" not in server.stderr  # nothing was imported to be stopped
