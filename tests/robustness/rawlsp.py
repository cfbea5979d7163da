"""A minimal LSP client on raw pipes: it can send anything (also garbage) and it
keeps every byte the server writes, so a test can check that stdout carries
nothing but well-formed protocol messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SERVER = [sys.executable, "-m", "gradguard", "server"]
#: The same server with one rule made to fail (see launch_server.py).
FAULTY_SERVER = [sys.executable, str(HERE / "launch_server.py")]


class RawServer:
    def __init__(
        self,
        command: list[str] | None = None,
        *,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.process = subprocess.Popen(
            command or SERVER,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        self.raw = bytearray()
        self.stderr = bytearray()
        self._lock = threading.Lock()
        self._id = 0
        self.faults = 0
        self._readers = [
            threading.Thread(target=self._pump, args=(self.process.stdout, self.raw), daemon=True),
            threading.Thread(
                target=self._pump, args=(self.process.stderr, self.stderr), daemon=True
            ),
        ]
        for reader in self._readers:
            reader.start()

    def _pump(self, stream: Any, sink: bytearray) -> None:
        while chunk := stream.read1(65536):
            with self._lock:
                sink.extend(chunk)

    # -- sending ---------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def frame(self, body: bytes, length: int | None = None) -> None:
        size = len(body) if length is None else length
        self.write(b"Content-Length: %d\r\n\r\n" % size + body)

    def send(self, method: str, params: Any = None, *, request: bool = False) -> int | None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        if request:
            self._id += 1
            message["id"] = self._id
        self.frame(json.dumps(message).encode())
        return message.get("id")

    def request(self, method: str, params: Any = None, timeout: float = 20.0) -> dict:
        ident = self.send(method, params, request=True)
        return self.wait_for(lambda m: m.get("id") == ident and "method" not in m, timeout)

    # -- receiving -------------------------------------------------------------------

    def messages(self) -> list[dict]:
        """Everything received so far; fails on any byte that is not a message."""
        with self._lock:
            data = bytes(self.raw)
        out = []
        while data:
            header, separator, rest = data.partition(b"\r\n\r\n")
            if not separator:
                assert len(header) < 200 and header.startswith(b"Content-"), data[:200]
                break
            fields = dict(line.split(": ", 1) for line in header.decode("ascii").split("\r\n"))
            assert set(fields) <= {"Content-Length", "Content-Type"}, fields
            length = int(fields["Content-Length"])
            if len(rest) < length:
                break  # still arriving
            out.append(json.loads(rest[:length]))
            data = rest[length:]
        return out

    def objects(self) -> list[dict]:
        """The messages received so far but batch answers (JSON arrays)."""
        return [m for m in self.messages() if isinstance(m, dict)]

    def wait_for(self, predicate: Callable[[dict], Any], timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.objects():
                if predicate(message):
                    return message
            if self.process.poll() is not None:
                time.sleep(0.1)
                for message in self.objects():
                    if predicate(message):
                        return message
                raise AssertionError(f"server exited ({self.process.returncode}); {self.tail()}")
            time.sleep(0.02)
        raise AssertionError(f"timed out; {self.tail()}")

    def notifications(self, method: str) -> list[dict]:
        return [m for m in self.objects() if m.get("method") == method]

    def published(self, uri: str, version: int | None = None) -> list[dict]:
        return [
            m["params"]
            for m in self.notifications("textDocument/publishDiagnostics")
            if m["params"]["uri"] == uri
            and (version is None or m["params"].get("version") == version)
        ]

    def wait_published(self, uri: str, version: int | None, timeout: float = 20.0) -> list[dict]:
        message = self.wait_for(
            lambda m: (
                m.get("method") == "textDocument/publishDiagnostics"
                and m["params"]["uri"] == uri
                and (version is None or m["params"].get("version") == version)
            ),
            timeout,
        )
        return message["params"]["diagnostics"]

    def log_lines(self) -> list[str]:
        return [
            m["params"]["message"]
            for m in self.objects()
            if m.get("method") in ("window/logMessage", "window/showMessage")
        ]

    def tail(self) -> str:
        return "stderr: " + self.stderr.decode(errors="replace")[-3000:]

    # -- lifecycle -------------------------------------------------------------------

    def initialize(self, root: Path, *, process_id: int | None = None, options: Any = None) -> dict:
        response = self.request(
            "initialize",
            {
                "processId": os.getpid() if process_id is None else process_id,
                "rootUri": root.as_uri(),
                "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
                "capabilities": {
                    "textDocument": {"publishDiagnostics": {"versionSupport": True}},
                    "workspace": {"workspaceEdit": {"documentChanges": True}},
                },
                "initializationOptions": options,
            },
        )
        self.send("initialized", {})
        # initialize is answered before the server has imported pygls (gradguard.lsp.early):
        # its first log line says it has, so that timed tests time only what they test.
        self.wait_for(lambda m: m.get("method") == "window/logMessage", timeout=60)
        return response

    def open(self, uri: str, text: str, version: int = 1) -> None:
        self.send(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": uri,
                    "languageId": "python",
                    "version": version,
                    "text": text,
                }
            },
        )

    def change(self, uri: str, version: int, changes: list[dict]) -> None:
        self.send(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": version}, "contentChanges": changes},
        )

    def stop(self, timeout: float = 10.0) -> int:
        """shutdown + exit; the exit code (0 expected)."""
        if self.process.poll() is None:
            try:
                self.request("shutdown", timeout=timeout)
                self.send("exit")
            except (AssertionError, BrokenPipeError, OSError):
                pass
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self.kill()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        for reader in self._readers:
            reader.join(timeout=5)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass

    def assert_only_protocol_on_stdout(self) -> None:
        self.messages()  # raises on any stray byte
