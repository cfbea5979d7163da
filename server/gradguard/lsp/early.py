"""Answering ``initialize`` before pygls and lsprotocol are imported (standard library only).

Importing ``lsprotocol.types`` (attrs classes for the whole protocol, about 550 of them,
each with generated methods to compile) was about 60% of the server's start, and pygls
imports it first thing. Nothing the answer to ``initialize`` holds needs it: the
capabilities are the handler table of :mod:`gradguard.lsp.server` (:data:`CAPABILITIES`,
checked against what pygls computes from that table by tests/robustness/test_early_initialize.py)
plus two things the client's capabilities decide, the position encoding and notebook sync,
decided here the way pygls' ``ServerCapabilitiesBuilder`` decides them.

So when the first message is a well-formed ``initialize`` request it is answered here;
the server then imports everything and hands the same request to pygls, whose own answer
is dropped (:class:`gradguard.lsp.host.GradGuardProtocol`): its workspace, settings and
client capabilities are set up exactly as before. Anything else first (a framing fault,
bytes that are not JSON, another method) is not answered here: every byte read goes to
the server's reader (:mod:`gradguard.lsp.framing`), which answers it as before.
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading
from collections.abc import Callable
from typing import Any, BinaryIO, NamedTuple

from gradguard import __version__

NAME = "gradguard"
#: Seconds of silence, once a message has begun, after which it is left to the server's
#: reader (a Content-Length too long: the client waits; the reader has its own grace).
PAUSE_S = 0.25
#: A header longer than this is not one this module reads.
MAX_HEADER = 4096
_ENCODINGS = ("utf-8", "utf-16", "utf-32")

#: The capabilities pygls computes for server.py's handlers, but the position encoding
#: (set per client) and notebook sync (only for a client with notebook capabilities).
CAPABILITIES: dict[str, Any] = {
    "textDocumentSync": {"openClose": True, "change": 2, "save": True},
    "hoverProvider": True,
    "codeActionProvider": {
        "codeActionKinds": [
            "quickfix",
            "source.fixAll.gradguard",
            "notebook.source.fixAll.gradguard",
        ],
        "resolveProvider": True,
    },
    "executeCommandProvider": {"commands": ["gradguard.applyFixAll"]},
    "diagnosticProvider": {
        "interFileDependencies": False,
        "workspaceDiagnostics": False,
        "identifier": NAME,
    },
    "workspace": {
        "workspaceFolders": {"supported": True, "changeNotifications": True},
        "fileOperations": {},
    },
}
#: ``GradGuardServer``'s notebook sync, as pygls sends it.
NOTEBOOK_SYNC: dict[str, Any] = {
    "notebookSelector": [{"notebook": "*", "cells": [{"language": "python"}]}],
    "save": True,
}


def initialize_result(params: dict[str, Any]) -> dict[str, Any]:
    """The ``InitializeResult`` for these ``initialize`` params, as pygls would send it."""
    client = params.get("capabilities") or {}
    capabilities = {
        "positionEncoding": position_encoding(client),
        **CAPABILITIES,
        "textDocumentSync": _text_document_sync(client),
    }
    if client.get("notebookDocument") is not None:
        capabilities = {**capabilities, "notebookDocumentSync": NOTEBOOK_SYNC}
    return {"capabilities": capabilities, "serverInfo": {"name": NAME, "version": __version__}}


def _text_document_sync(client: dict[str, Any]) -> dict[str, Any]:
    """pygls says ``willSave: false`` (no handler) to a client that states either way."""
    sync = dict(CAPABILITIES["textDocumentSync"])
    stated = ((client.get("textDocument") or {}).get("synchronization")) or {}
    for name in ("willSave", "willSaveWaitUntil"):
        if stated.get(name) is not None:
            sync[name] = False
    return sync


def position_encoding(client: dict[str, Any]) -> str:
    """The client's first encoding that is supported, else UTF-16 (as pygls chooses)."""
    general = client.get("general") or {}
    for encoding in general.get("positionEncodings") or ():
        if encoding in _ENCODINGS:
            return str(encoding)
    return "utf-16"


def serve_stdio() -> None:
    """The language server over stdio: ``initialize`` answered here, then the server
    imported and run (:func:`gradguard.lsp.server.run_stdio`) until ``exit``."""
    stdout = protocol_stdout()
    pump = StdinPump(sys.stdin.buffer)
    start = answer_initialize(pump, stdout)
    if not start.pending and pump.ended:  # the client went before saying anything
        print("gradguard: the input closed before any message; stopping", file=sys.stderr)
        sys.exit(1)  # LSP: no shutdown request came
    from gradguard.lsp.server import run_stdio

    run_stdio(pump, stdout, start)


def protocol_stdout() -> BinaryIO:
    """A private handle on fd 1 for the protocol; fd 1 itself now points at stderr, so
    that ``print``, subprocesses and C extensions cannot write into the protocol."""
    sys.stdout.flush()
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(protocol_fd, "wb", buffering=0)


class StdinPump:
    """One thread reading stdin for the whole session. Chunks wait in a queue until a
    sink is attached (:meth:`attach`); an empty chunk is the end of input."""

    def __init__(self, stdin: BinaryIO) -> None:
        self._stdin = stdin
        self._waiting: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self._sink: Callable[[bytes], object] | None = None
        self._lock = threading.Lock()
        self.ended = False  # the end of input was seen before a sink was attached
        threading.Thread(target=self._run, name="gradguard-stdin", daemon=True).start()

    def _run(self) -> None:
        read = getattr(self._stdin, "read1", self._stdin.read)
        while True:
            chunk = read(65536)
            with self._lock:
                if self._sink is None:
                    self._waiting.put(chunk)
                elif not self._deliver(chunk):
                    return
            if not chunk:
                return

    def _deliver(self, chunk: bytes) -> bool:
        assert self._sink is not None
        try:
            self._sink(chunk)
        except RuntimeError:  # the event loop has closed: the server is stopping
            return False
        return True

    def next_chunk(self, timeout: float | None) -> bytes | None:
        """The next chunk before any sink is attached; None when ``timeout`` passed."""
        try:
            return self._waiting.get(timeout=timeout)
        except queue.Empty:
            return None

    def put_back_end(self) -> None:
        """The end of input was read by :meth:`next_chunk`: keep it for the sink."""
        self.ended = True
        self._waiting.put(b"")

    def attach(self, sink: Callable[[bytes], object], pending: bytes = b"") -> None:
        """From now on every chunk goes to ``sink``: first ``pending``, then what waited."""
        with self._lock:
            self._sink = sink
            if pending:
                sink(pending)
            while not self._waiting.empty():
                if not self._deliver(self._waiting.get()):
                    return


class Start(NamedTuple):
    """What :func:`answer_initialize` leaves to the server."""

    pending: bytes  # every byte read so far (the initialize request included)
    #: The id of the initialize request answered and its result, if one was answered.
    answered: tuple[int | str, dict[str, Any]] | None = None


def answer_initialize(pump: StdinPump, out: BinaryIO) -> Start:
    """Read the first message; answer it if it is a well-formed ``initialize``."""
    data = bytearray()
    try:
        request = _first_request(pump, data)
        if request is None:
            return Start(bytes(data))
        result = initialize_result(request["params"])
        body = json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": result})
        header = f"Content-Length: {len(body)}\r\n"
        header += "Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n"
        out.write((header + body).encode("utf-8"))
        out.flush()
    except Exception as error:  # never lose the client's bytes: the reader takes them all
        print(f"gradguard: initialize left to the server ({error!r})", file=sys.stderr)
        return Start(bytes(data))
    return Start(bytes(data), (request["id"], result))


def _first_request(pump: StdinPump, data: bytearray) -> dict[str, Any] | None:
    """The first message if it is a well-framed ``initialize`` request, else None; every
    byte read is appended to ``data``."""
    length: int | None = None
    start = 0
    while length is None or len(data) < start + length:
        chunk = pump.next_chunk(PAUSE_S if data else None)
        if chunk is None:  # a pause mid-message
            return None
        if not chunk:  # the end of input: the server's reader must see it too
            pump.put_back_end()
            return None
        data += chunk
        if length is None:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                if len(data) > MAX_HEADER:
                    return None
                continue
            length, start = _content_length(bytes(data[:end])), end + 4
            if length is None:
                return None
    try:
        message = json.loads(data[start : start + length])
    except ValueError:
        return None
    return message if _is_initialize(message) else None


def _content_length(header: bytes) -> int | None:
    length = None
    for line in header.split(b"\r\n"):
        name, colon, value = line.partition(b":")
        if not colon:
            return None
        if name.strip().lower() == b"content-length":
            value = value.strip()
            if not value.isdigit():
                return None
            length = int(value)
        elif name.strip().lower() != b"content-type":
            return None
    return length


def _is_initialize(message: Any) -> bool:
    """A request whose params pygls would structure as far as the answer reads them."""
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return False
    params, ident = message.get("params"), message.get("id")
    if message.get("method") != "initialize" or not isinstance(params, dict):
        return False
    client = params.get("capabilities")
    general = client.get("general") if isinstance(client, dict) else None
    return (
        isinstance(ident, (int, str))
        and not isinstance(ident, bool)
        and isinstance(client, dict)
        and isinstance(params.get("processId"), (int, type(None)))
        and isinstance(general or {}, dict)
        and isinstance((general or {}).get("positionEncodings") or [], list)
    )
