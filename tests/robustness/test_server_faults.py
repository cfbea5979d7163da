"""Faults thrown at ``python -m gradguard server`` over stdio, in raw JSON-RPC.

After every fault the server still answers, and its stdout never carries a
byte that is not a well-formed protocol message.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from harness import record
from rawlsp import FAULTY_SERVER, RawServer

from gradguard.engine import analyze

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

GG204_AND_GG201 = GG201_CODE + textwrap.dedent(
    """\


    class Net(nn.Module):
        def _init_(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)
    """
)


def _alive(server: RawServer) -> None:
    """The server still answers a request."""
    response = server.request("textDocument/hover", _at("file:///never/opened.py", 0, 0))
    assert "error" not in response or response["error"]["code"] != -32603, response
    assert server.process.poll() is None


def _at(uri: str, line: int, character: int) -> dict:
    return {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}


def _fault(server: RawServer, n: int = 1) -> None:
    server.faults += n
    record("server faults injected", n)


@pytest.fixture
def server(tmp_path):
    started = RawServer(cwd=tmp_path)
    started.initialize(tmp_path, options={"gradguard": {"debounceMs": 20}})
    yield started
    started.kill()
    started.assert_only_protocol_on_stdout()


def test_malformed_messages_unknown_methods_and_unknown_documents(server, tmp_path):
    # Malformed JSON, JSON that is not JSON-RPC, a request without a method.
    for body in [b"{not json", b"[1, 2, 3]", b'"just a string"', b'{"jsonrpc": "2.0", "id": 99}']:
        server.frame(body)
        _fault(server)
        _alive(server)
    # Unknown methods: a request gets MethodNotFound, a notification nothing.
    response = server.request("gradguard/noSuchMethod", {"x": 1})
    assert response["error"]["code"] == -32601, response
    server.send("gradguard/noSuchNotification", {"x": 1})
    server.send("$/cancelRequest", {"id": 12345})
    _fault(server, 3)
    # Params of the wrong shape: the request gets InvalidParams, the notification nothing.
    ident = server.send("textDocument/hover", {"textDocument": 5}, request=True)
    invalid = server.wait_for(lambda m: m.get("id") == ident and "method" not in m)
    assert invalid["error"]["code"] == -32602, invalid
    server.send("textDocument/didOpen", {"textDocument": {"uri": 5}})
    _fault(server, 2)
    # Requests and notifications for documents never opened.
    never = (tmp_path / "never.py").as_uri()
    assert server.request("textDocument/hover", _at(never, 3, 1)).get("result") is None
    actions = server.request(
        "textDocument/codeAction",
        {
            "textDocument": {"uri": never},
            "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
            "context": {"diagnostics": []},
        },
    )
    assert actions.get("result") in (None, [])
    server.change(never, 2, [{"text": "x = 1\n"}])
    server.send("textDocument/didSave", {"textDocument": {"uri": never}})
    server.send("textDocument/didClose", {"textDocument": {"uri": never}})
    _fault(server, 5)
    _alive(server)
    # A document opened, then closed: requests about it are answered, empty.
    uri = (tmp_path / "closed.py").as_uri()
    server.open(uri, GG201_CODE)
    assert server.wait_published(uri, 1)
    server.send("textDocument/didClose", {"textDocument": {"uri": uri}})
    server.wait_for(
        lambda m: (
            m.get("method") == "textDocument/publishDiagnostics"
            and m["params"]["uri"] == uri
            and not m["params"]["diagnostics"]
        )
    )
    assert server.request("textDocument/hover", _at(uri, 5, 3)).get("result") is None
    server.change(uri, 2, [{"text": "x = 1\n"}])
    _fault(server, 2)
    _alive(server)
    assert server.stop() == 0


def test_out_of_range_changes_and_stale_code_actions(server, tmp_path):
    uri = (tmp_path / "t.py").as_uri()
    server.open(uri, GG201_CODE)
    (diagnostic,) = server.wait_published(uri, 1)
    # Positions past the end of a line and of the document, and an inverted range.
    bad_ranges = [
        ((100, 0), (100, 5)),
        ((2, 500), (2, 900)),
        ((5, 3), (1, 0)),
        ((0, 0), (9_999, 9_999)),
    ]
    version = 1
    for (sl, sc), (el, ec) in bad_ranges:
        version += 1
        server.change(
            uri,
            version,
            [
                {
                    "range": {
                        "start": {"line": sl, "character": sc},
                        "end": {"line": el, "character": ec},
                    },
                    "text": "# edit\n",
                }
            ],
        )
        _fault(server)
    _alive(server)
    # Whatever text the server now holds, a full replacement brings it back in step.
    version += 1
    server.change(uri, version, [{"text": GG201_CODE}])
    (again,) = server.wait_published(uri, version)
    assert again["code"] == "GG201"
    # A code action asked for with the diagnostic of an older version: nothing, no error.
    version += 1
    server.change(uri, version, [{"text": GG201_CODE + "\n"}])
    response = server.request(
        "textDocument/codeAction",
        {
            "textDocument": {"uri": uri},
            "range": diagnostic["range"],
            "context": {"diagnostics": [diagnostic]},
        },
    )
    _fault(server)
    assert "error" not in response
    for action in response.get("result") or []:  # only edits for the current version
        for change in (action.get("edit") or {}).get("documentChanges", []):
            assert change["textDocument"]["version"] == version
    assert server.stop() == 0


def _insert(line: int, character: int, text: str) -> dict:
    where = {"line": line, "character": character}
    return {"range": {"start": where, "end": where}, "text": text}


def test_a_thousand_rapid_changes(server, tmp_path):
    """The final diagnostics are those of the final text (no lost or reordered edit)."""
    uri = (tmp_path / "rapid.py").as_uri()
    text = GG201_CODE
    server.open(uri, text)
    lines = text.split("\n")
    version = 1
    for i in range(1000):
        version += 1
        if i % 100 == 99:  # every 100th change: a multi-line edit with emoji and CRLF
            change = _insert(0, 0, f"# 🔥 change {i}\r\n")
            lines.insert(0, f"# 🔥 change {i}\r")
        else:  # type a comment at the end of the model line, one character at a time
            row = next(n for n, line in enumerate(lines) if line.startswith("model = nn"))
            column = len(lines[row].encode("utf-16-le")) // 2
            char = "# x" if i % 100 == 0 else "x"
            change = _insert(row, column, char)
            lines[row] += char
        server.change(uri, version, [change])
    final_text = "\n".join(lines)
    record("server faults injected", 1000)
    diagnostics = server.wait_published(uri, version, timeout=60)
    expected = analyze(final_text, str(tmp_path / "rapid.py")).findings
    assert [d["code"] for d in diagnostics] == [f.code for f in expected]
    assert [d["range"]["start"]["line"] for d in diagnostics] == [
        f.span.start.line for f in expected
    ]
    # The server holds exactly the client's text: a fix-all edit applies cleanly.
    response = server.request(
        "textDocument/codeAction",
        {
            "textDocument": {"uri": uri},
            "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
            "context": {"diagnostics": [], "only": ["source.fixAll.gradguard"]},
        },
    )
    assert "error" not in response
    assert server.stop() == 0


def test_wrong_content_length(tmp_path):
    """Too short, too long, non-numeric, garbage: the stream is in step again afterwards
    (each fault on its own: tests/robustness/test_framing.py), and closing the input
    ends the process."""
    server = RawServer(cwd=tmp_path)
    try:
        server.initialize(tmp_path)
        body = json.dumps({"jsonrpc": "2.0", "id": 500, "method": "no/such"}).encode()
        server.frame(body, length=len(body) - 10)
        server.frame(body, length=len(body) + 40)
        server.write(b"Content-Length: abc\r\n\r\n{}")
        server.write(b"garbage without any header\r\n\r\n")
        _fault(server, 4)
        _alive(server)
        assert server.process.stdin is not None
        server.process.stdin.close()
        assert server.process.wait(timeout=15) in (0, 1)
    finally:
        server.kill()
    server.assert_only_protocol_on_stdout()


def test_an_exception_in_one_rule(tmp_path):
    """GG204's check raises (test-only launcher): logged, the others still report."""
    server = RawServer([*FAULTY_SERVER, "--fail", "GG204"], cwd=tmp_path)
    try:
        server.initialize(tmp_path, options={"gradguard": {"debounceMs": 20}})
        uri = (tmp_path / "t.py").as_uri()
        server.open(uri, GG204_AND_GG201)
        diagnostics = server.wait_published(uri, 1)
        _fault(server)
        assert [d["code"] for d in diagnostics] == ["GG201"]
        server.wait_for(
            lambda m: (
                m.get("method") == "window/logMessage"
                and "internal error in rule GG204" in m["params"]["message"]
            )
        )
        for version in range(2, 5):  # further edits: still analysed, still reported once
            server.change(uri, version, [{"text": GG204_AND_GG201 + "\n" * version}])
        assert [d["code"] for d in server.wait_published(uri, 4)] == ["GG201"]
        shown = [line for line in server.log_lines() if "internal error in rule GG204" in line]
        assert len(shown) == 2  # one logMessage and one showMessage, not one per edit
        _alive(server)
        assert "fault injected into GG204" in server.stderr.decode(errors="replace")
        assert server.stop() == 0
    finally:
        server.kill()
    server.assert_only_protocol_on_stdout()


def test_exit_codes_and_closed_input(tmp_path):
    # exit without shutdown: exit code 1.
    server = RawServer(cwd=tmp_path)
    try:
        server.initialize(tmp_path)
        server.send("exit")
        assert server.process.wait(timeout=15) == 1
    finally:
        server.kill()
    # stdin closed with a document open and an analysis scheduled: the process exits.
    server = RawServer(cwd=tmp_path)
    try:
        server.initialize(tmp_path, options={"gradguard": {"debounceMs": 5000}})
        uri = (tmp_path / "t.py").as_uri()
        server.open(uri, GG201_CODE)
        server.change(uri, 2, [{"text": GG201_CODE + "\n"}])
        assert server.process.stdin is not None
        server.process.stdin.close()
        assert server.process.wait(timeout=15) in (0, 1)
    finally:
        server.kill()
    # A request after shutdown (pygls ignores it without a response), then exit: 0.
    server = RawServer(cwd=tmp_path)
    try:
        server.initialize(tmp_path)
        server.request("shutdown")
        server.send("textDocument/hover", _at("file:///x.py", 0, 0), request=True)
        server.send("exit")
        assert server.process.wait(timeout=15) == 0
    finally:
        server.kill()
    _fault(server, 3)


EDITOR = textwrap.dedent(
    """\
    import subprocess, sys, time
    server = subprocess.Popen(
        [sys.executable, "-m", "gradguard", "server"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    print(server.pid, flush=True)
    time.sleep(600)
    """
)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_editor_process_killed(tmp_path):
    """The editor dies (SIGKILL) without a word: its pipes close, the server exits."""
    editor = subprocess.Popen(
        [sys.executable, "-c", EDITOR], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        assert editor.stdout is not None
        pid = int(editor.stdout.readline())
        time.sleep(1.0)
        assert _running(pid)
        editor.send_signal(signal.SIGKILL)
        editor.wait(timeout=10)
        deadline = time.monotonic() + 20
        while _running(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(pid), "the server outlived its editor"
        record("server faults injected")
    finally:
        if editor.poll() is None:
            editor.kill()


def _parse_error_server(tmp_path, *, pull: bool = False) -> RawServer:
    """``ast.parse`` raises SystemError on text holding the marker (test-only launcher)."""
    server = RawServer([*FAULTY_SERVER, "--parse-error"], cwd=tmp_path)
    if pull:  # the raw client's initialize has no diagnostic capability: add it
        server.request(
            "initialize",
            {
                "processId": None,
                "rootUri": tmp_path.as_uri(),
                "capabilities": {"textDocument": {"diagnostic": {}}},
            },
        )
        server.send("initialized", {})
    else:
        server.initialize(tmp_path, options={"gradguard": {"debounceMs": 20}})
    return server


def _internal_error_lines(server: RawServer) -> list[str]:
    return [line for line in server.log_lines() if "internal error: SystemError" in line]


def test_a_failed_analysis_keeps_the_previous_diagnostics_and_is_shown_once(tmp_path):
    server = _parse_error_server(tmp_path)
    try:
        uri = (tmp_path / "t.py").as_uri()
        server.open(uri, GG201_CODE)
        assert [d["code"] for d in server.wait_published(uri, 1)] == ["GG201"]
        for version in range(2, 6):  # every edit's analysis fails
            server.change(uri, version, [{"text": GG201_CODE + "# PARSE_ERROR_MARKER\n" * version}])
        _fault(server, 4)
        server.wait_for(lambda m: m.get("method") == "window/showMessage")
        server.change(uri, 6, [{"text": GG201_CODE + "\n"}])
        assert [d["code"] for d in server.wait_published(uri, 6)] == ["GG201"]
        assert [p["version"] for p in server.published(uri)] == [1, 6]  # none for 2-5
        shown = _internal_error_lines(server)
        assert len(shown) == 2, shown  # one logMessage and one showMessage for four failures
        assert "previous diagnostics are kept" in shown[0]
        assert server.stderr.decode(errors="replace").count("Traceback") == 1
        _alive(server)
        assert server.stop() == 0
    finally:
        server.kill()
    server.assert_only_protocol_on_stdout()


def test_a_failed_analysis_answers_a_pull_with_the_previous_result(tmp_path):
    server = _parse_error_server(tmp_path, pull=True)
    try:
        uri = (tmp_path / "t.py").as_uri()
        server.open(uri, GG201_CODE)
        first = server.request("textDocument/diagnostic", {"textDocument": {"uri": uri}})
        assert [d["code"] for d in first["result"]["items"]] == ["GG201"]
        server.change(uri, 2, [{"text": GG201_CODE + "# PARSE_ERROR_MARKER\n"}])
        _fault(server)
        again = server.request(
            "textDocument/diagnostic",
            {"textDocument": {"uri": uri}, "previousResultId": first["result"]["resultId"]},
        )
        assert again["result"] == {"kind": "unchanged", "resultId": first["result"]["resultId"]}
        assert len(_internal_error_lines(server)) == 2
        assert server.stop() == 0
    finally:
        server.kill()
