"""The server's reading side of the protocol: framing that resynchronises, and the
JSON-RPC answers pygls does not give. A layer over pygls 2.x, not a fork of it.

pygls' stdio loop (``pygls.io_.run_async``) trusts every ``Content-Length``: one too
short, too long, non-numeric or missing left the stream out of step for the rest of
the session (the server stayed up and never answered again), and a request whose
params did not fit the schema, a batch, or a request after ``shutdown`` got no
response at all, so the client waited forever. :func:`start_io` replaces that loop
(it mirrors ``JsonRPCServer._start_io_async``) and keeps the protocol object:

* **Framing** (:class:`FrameReader`). A header is ``Content-Length: N`` with real
  CR LF line ends, which valid JSON cannot contain, so the next header found
  anywhere in the stream is a safe place to resynchronise. The body must be JSON:
  one that does not decode (too short) is read on to the next header; a header
  inside the body (too long) ends it there; a body still short when the input pauses
  for :data:`GRACE_S` that already holds a whole JSON message (too long, nothing
  after it) is taken as it is; bytes before a header (a missing or non-numeric
  ``Content-Length``) are decoded as the message they likely are. What cannot be
  decoded gets the specification's ``ParseError`` response (``id: null``). Each fault
  is logged once with its reason.
* **Messages** (:func:`dispatch`). A value that is not a JSON-RPC object gets
  ``InvalidRequest``; a request whose params pygls cannot structure gets
  ``InvalidParams`` with its id; a batch (LSP has none) gets an array with an
  ``InvalidRequest`` per request in it (a single one when the batch is empty), per
  JSON-RPC 2.0; any request after ``shutdown`` but ``exit`` gets ``InvalidRequest``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from dataclasses import dataclass
from typing import Any, BinaryIO

from pygls.exceptions import JsonRpcException
from pygls.io_ import StdoutWriter

from gradguard.lsp.early import StdinPump

log = logging.getLogger(__name__)

#: Seconds of silence after which a body shorter than its Content-Length that already
#: holds a whole JSON message is taken as it is (the client is waiting for an answer).
GRACE_S = 0.25
#: Bytes without any header kept at most while waiting (the rest is dropped).
MAX_UNFRAMED = 1 << 20

PARSE_ERROR, INVALID_REQUEST = -32700, -32600
_MARK = b"Content-Length:"
_LINE = rb"[A-Za-z0-9-]+:[^\r\n]*\r\n"  # one header line, "Name: value"
_HEADER_AT = re.compile(rb"Content-Length:[ \t]*(\d+)[ \t]*\r\n(?:%s)*\r\n" % _LINE)
# LSP's only other header, when it comes first (any name here would match inside JSON).
_LINES_BEFORE = re.compile(rb"(?:Content-Type:[^\r\n]*\r\n)+\Z")
_HEADER_BEGUN = re.compile(
    rb"Content-Length:[ \t]*\d*[ \t]*(?:\r\n(?:%s)*(?:[A-Za-z0-9-]+(?::[^\r\n]*)?)?)?\r?" % _LINE
)


class Unreadable:
    """A frame whose bytes are not JSON: answered with ``ParseError``."""


UNREADABLE = Unreadable()


@dataclass(frozen=True)
class _Header:
    start: int
    end: int  # where the body starts
    length: int


def _find_header(data: bytearray, pos: int = 0) -> _Header | None:
    """The first complete header at or after ``pos``."""
    hit = data.find(_MARK, pos)
    while hit >= 0:
        match = _HEADER_AT.match(data, hit)
        if match is not None:
            before = _LINES_BEFORE.search(data, max(pos, hit - 512), hit)
            return _Header(before.start() if before else hit, match.end(), int(match.group(1)))
        hit = data.find(_MARK, hit + 1)
    return None


class FrameReader:
    """Messages from a byte stream fed by :meth:`feed` (on the event loop's thread)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.eof = False
        self._arrived = asyncio.Event()

    def feed(self, chunk: bytes) -> None:
        if chunk:
            self.buffer += chunk
        else:
            self.eof = True
        self._arrived.set()

    async def _more(self, timeout: float | None) -> bool:
        """Wait for bytes or the end of input; False when ``timeout`` passed first."""
        if self.eof:
            return False
        self._arrived.clear()
        try:
            await asyncio.wait_for(self._arrived.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def next_message(self) -> Any:
        """The next JSON value, :data:`UNREADABLE`, or None at the end of input."""
        while True:
            header = _find_header(self.buffer)
            if header is not None and self.buffer[: header.start].strip():
                # A missing or broken header: the bytes before this one are a message, maybe.
                return self._take(header.start, "a message without a valid Content-Length")
            if header is not None:
                return await self._body(header)
            if not self.buffer.strip():
                self.buffer.clear()  # whitespace between messages
                if self.eof:
                    return None
                await self._more(None)
                continue
            if self.eof:
                return self._take(len(self.buffer), "a message without a Content-Length")
            paused = not await self._more(GRACE_S)
            if paused and not _header_begun(self.buffer):
                return self._take(len(self.buffer), "a message without a Content-Length")
            if len(self.buffer) > MAX_UNFRAMED:
                log.warning("protocol: %d bytes without a header dropped", len(self.buffer))
                del self.buffer[: -len(_MARK)]

    async def _body(self, header: _Header) -> Any:
        start, end = header.end, header.end + header.length
        searched = start
        while True:
            following = _find_header(self.buffer, max(start, searched - len(_MARK)))
            searched = len(self.buffer)
            if following is not None and following.start < end:
                del self.buffer[:start]
                return self._take(following.start - start, "a Content-Length too long")
            if len(self.buffer) >= end:
                try:
                    value = json.loads(self.buffer[start:end])
                except ValueError:
                    return await self._too_short(start)
                del self.buffer[:end]
                return value
            if not await self._more(GRACE_S) and (
                self.eof or _whole_json(self.buffer[start:]) is not None
            ):
                del self.buffer[:start]
                return self._take(len(self.buffer), "a Content-Length too long")

    async def _too_short(self, start: int) -> Any:
        """A body that is not JSON: it may go on to the next header (a length too short)."""
        del self.buffer[:start]
        while True:
            following = _find_header(self.buffer)
            if following is not None:
                return self._take(following.start, "a Content-Length too short")
            if self.eof or not await self._more(GRACE_S):
                return self._take(len(self.buffer), "a Content-Length too short")

    def _take(self, count: int, fault: str) -> Any:
        """Decode the first ``count`` bytes as the message a fault left behind."""
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        value = _whole_json(data)
        if value is None and b"\r\n\r\n" in data:  # after a header that did not parse
            value = _whole_json(data.rsplit(b"\r\n\r\n", 1)[1])
        if value is None:
            log.warning("protocol: %s; %d bytes are not JSON (ParseError sent)", fault, count)
            return UNREADABLE
        log.warning("protocol: %s; the message was read anyway", fault)
        return value


def _header_begun(data: bytearray) -> bool:
    """The input ends in a header that is still arriving (a pause mid-header)."""
    hit = data.rfind(_MARK)
    if hit >= 0 and _HEADER_BEGUN.fullmatch(data, hit):
        return True
    return any(data.endswith(_MARK[:n]) for n in range(1, len(_MARK)))


def _whole_json(data: bytes | bytearray) -> Any:
    """``data`` as one JSON value (surrounding whitespace allowed), else None."""
    try:
        return json.loads(data) if data.strip() else None
    except ValueError:
        return None


# -- messages ---------------------------------------------------------------------------


def dispatch(protocol: Any, value: Any) -> None:
    """Hand one decoded value to pygls' protocol, answering what pygls would not."""
    if value is UNREADABLE:
        _error(protocol, None, PARSE_ERROR, "Parse error")
    elif isinstance(value, list):
        _batch(protocol, value)
    elif not _is_message(value):
        _error(protocol, _id_of(value), INVALID_REQUEST, "Invalid Request")
    elif "method" in value and "id" in value and _after_shutdown(protocol, value):
        _error(protocol, value["id"], INVALID_REQUEST, "the server has been shut down")
    else:
        try:
            message = protocol.structure_message(value)
        except JsonRpcException as error:
            if "method" in value and "id" in value:
                _error(protocol, value["id"], error.code, f"{error.message} ({value['method']})")
            else:
                log.warning("protocol: ignored a message that does not fit the schema")
            return
        protocol.handle_message(message)


def _is_message(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("jsonrpc") == "2.0"
        and isinstance(value.get("id", 0), (int, str, type(None)))
        and ("method" in value or "result" in value or "error" in value)
        and isinstance(value.get("method", ""), str)
    )


def _id_of(value: Any) -> Any:
    ident = value.get("id") if isinstance(value, dict) else None
    return ident if isinstance(ident, (int, str)) else None


def _after_shutdown(protocol: Any, value: dict[str, Any]) -> bool:
    return bool(getattr(protocol, "_shutdown", False)) and value["method"] != "exit"


def _batch(protocol: Any, values: list[Any]) -> None:
    if not values:
        _error(protocol, None, INVALID_REQUEST, "Invalid Request (an empty batch)")
        return
    answers = [
        _error_body(_id_of(v), INVALID_REQUEST, "batches are not supported (LSP has none)")
        for v in values
        if not (_is_message(v) and "id" not in v)  # notifications get no answer
        and not (_is_message(v) and "method" not in v)  # nor do responses
    ]
    log.warning("protocol: a batch of %d messages refused", len(values))
    if answers:
        protocol._send_data(answers)


def _error_body(ident: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": ident, "error": {"code": code, "message": message}}


def _error(protocol: Any, ident: Any, code: int, message: str) -> None:
    protocol._send_data(_error_body(ident, code, message))


# -- the loop ---------------------------------------------------------------------------


async def serve(protocol: Any, pump: StdinPump, stop: threading.Event, pending: bytes) -> None:
    """Read messages from the pump (``pending`` first: what was read before the server
    was ready) and dispatch them until the input ends or ``stop``."""
    loop = asyncio.get_running_loop()
    reader = FrameReader()
    pump.attach(lambda chunk: loop.call_soon_threadsafe(reader.feed, chunk), pending)
    while not stop.is_set():
        value = await reader.next_message()
        if value is None:
            log.info("protocol: input closed")
            return
        try:
            dispatch(protocol, value)
        except (SystemExit, KeyboardInterrupt):
            raise
        except Exception:
            log.exception("protocol: unable to handle a message")


def start_io(server: Any, pump: StdinPump, stdout: BinaryIO, pending: bytes = b"") -> None:
    """``server.start_io`` with :func:`serve` as its reading loop."""
    server._stop_event = stop = threading.Event()  # pygls' shutdown() sets it
    server.protocol.set_writer(StdoutWriter(stdout))
    try:
        asyncio.run(serve(server.protocol, pump, stop, pending))
    except BrokenPipeError:
        log.error("the connection to the client is lost; stopping")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()
