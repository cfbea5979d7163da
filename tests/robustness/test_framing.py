"""Protocol faults end in an answer or a clean exit within a second (gradguard.lsp.framing).

First the reader on its own (bytes in, messages out, slow clients included), then
``python -m gradguard server`` in raw JSON-RPC: after every fault the request it
carried is answered (or gets the specification's error) within a second, and the
stream is in step again for the next request.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from harness import record
from rawlsp import RawServer

from gradguard.lsp import framing

# -- the reader -------------------------------------------------------------------------


def _frame(body: bytes, length: int | None = None) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % (len(body) if length is None else length) + body


def _read(*chunks: bytes | float, count: int) -> list:
    """Feed ``chunks`` (a float: a pause of that many seconds, then end of input)."""

    async def main() -> list:
        reader = framing.FrameReader()

        async def feed() -> None:
            for chunk in chunks:
                if isinstance(chunk, float):
                    await asyncio.sleep(chunk)
                else:
                    reader.feed(chunk)
            reader.feed(b"")

        feeding = asyncio.create_task(feed())
        found = [await reader.next_message() for _ in range(count)]
        await feeding
        return found

    return asyncio.run(main())


ONE = {"jsonrpc": "2.0", "id": 1, "method": "a", "params": {"uri": "file:///a.py"}}
TWO = {"jsonrpc": "2.0", "id": 2, "method": "b"}
B1, B2 = json.dumps(ONE).encode(), json.dumps(TWO).encode()


def test_well_framed_messages_in_any_chunking_and_with_pauses():
    stream = (
        _frame(B1) + b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n" + _frame(B2)
    )
    assert _read(stream, count=3) == [ONE, TWO, None]
    pieces = [stream[i : i + 7] for i in range(0, len(stream), 7)]
    assert _read(*pieces, count=2) == [ONE, TWO]
    # A slow client: the header, a pause longer than the grace period, then the body in parts.
    header, body = _frame(B1)[: -len(B1)], B1
    assert _read(header, 0.4, body[:5], 0.4, body[5:], count=1) == [ONE]


@pytest.mark.parametrize(
    "fault",
    [
        _frame(B1, len(B1) - 10),  # too short
        _frame(B1, len(B1) + 40),  # too long
        b"Content-Length: abc\r\n\r\n" + B1,  # non-numeric
        b"Content-Type: application/json\r\n\r\n" + B1,  # missing
        B1,  # no header at all
    ],
    ids=["too-short", "too-long", "non-numeric", "missing", "no-header"],
)
def test_a_framing_fault_keeps_its_message_and_the_next_one(fault):
    assert _read(fault + _frame(B2), count=3) == [ONE, TWO, None]
    assert _read(fault, 0.5, _frame(B2), count=3) == [ONE, TWO, None]  # alone, then more


def test_bytes_that_are_no_message_are_unreadable_and_the_stream_goes_on():
    found = _read(b"garbage without any header\r\n\r\n" + _frame(B2), count=3)
    assert found == [framing.UNREADABLE, TWO, None]
    assert _read(_frame(b"{not json"), count=2) == [framing.UNREADABLE, None]


# -- the server ---------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path):
    started = RawServer(cwd=tmp_path)
    started.initialize(tmp_path)
    yield started
    started.kill()
    started.assert_only_protocol_on_stdout()


def _hover(ident: int, uri: str = "file:///never/opened.py") -> bytes:
    params = {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}}
    message = {"jsonrpc": "2.0", "id": ident, "method": "textDocument/hover", "params": params}
    return json.dumps(message).encode()


def _answered(server: RawServer, ident: int | None, within: float = 1.0) -> dict:
    """The response to ``ident``, which must arrive within ``within`` seconds."""
    started = time.monotonic()
    response = server.wait_for(lambda m: "method" not in m and m.get("id") == ident, 5.0)
    assert time.monotonic() - started < within, response
    record("server faults injected", 1)
    return response


def _in_step(server: RawServer) -> None:
    response = server.request(
        "textDocument/hover",
        {
            "textDocument": {"uri": "file:///never/opened.py"},
            "position": {"line": 0, "character": 0},
        },
        timeout=5.0,
    )
    assert "error" not in response, response


@pytest.mark.parametrize(
    "fault",
    [
        lambda body: _frame(body, len(body) - 10),
        lambda body: _frame(body, len(body) + 40),
        lambda body: b"Content-Length: abc\r\n\r\n" + body,
        lambda body: b"Content-Type: application/json\r\n\r\n" + body,
    ],
    ids=["too-short", "too-long", "non-numeric", "missing"],
)
def test_a_request_with_a_framing_fault_is_answered(server, fault):
    server.write(fault(_hover(101)))
    assert _answered(server, 101).get("result") is None
    server.write(fault(_hover(102)) + _frame(_hover(103)))  # with the next message behind it
    assert "error" not in _answered(server, 102)
    assert "error" not in _answered(server, 103)
    _in_step(server)
    assert server.stop() == 0


def test_bytes_that_are_no_message_get_a_parse_error(server):
    server.write(b"garbage without any header\r\n\r\n")
    assert _answered(server, None)["error"]["code"] == -32700
    server.frame(b"{not json")
    _in_step(server)
    assert len([m for m in server.objects() if m.get("error", {}).get("code") == -32700]) == 2
    assert server.stop() == 0


def test_params_of_the_wrong_shape_get_invalid_params(server):
    uri = "file:///never/opened.py"
    hover = {"textDocument": {"uri": uri}, "position": "0:0"}
    server.send("textDocument/hover", hover, request=True)
    assert _answered(server, server._id)["error"]["code"] == -32602
    no_range = {"textDocument": {"uri": uri}, "context": {"diagnostics": []}}
    server.send("textDocument/codeAction", no_range, request=True)
    assert _answered(server, server._id)["error"]["code"] == -32602
    server.send("textDocument/didOpen", {"textDocument": {"uri": 5}})  # a notification: no answer
    _in_step(server)
    assert server.stop() == 0


def test_a_batch_gets_the_json_rpc_answer(server):
    notification = {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 1}}
    server.frame(json.dumps([json.loads(_hover(201)), notification, 5]).encode())
    started, answer = time.monotonic(), None
    while answer is None and time.monotonic() - started < 5:
        answer = next((m for m in server.messages() if isinstance(m, list)), None)
        time.sleep(0.01)
    assert answer is not None and time.monotonic() - started < 1.0
    assert [(a["id"], a["error"]["code"]) for a in answer] == [(201, -32600), (None, -32600)]
    server.frame(b"[]")
    assert _answered(server, None)["error"]["code"] == -32600
    _in_step(server)
    assert server.stop() == 0


def test_requests_after_shutdown_get_invalid_request(server):
    assert "error" not in server.request("shutdown")
    server.frame(_hover(301))
    assert _answered(server, 301)["error"]["code"] == -32600
    server.send("exit")
    assert server.process.wait(timeout=1.0) == 0
