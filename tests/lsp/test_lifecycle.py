"""Process-level behaviour: stdout carries only the protocol, stderr the logs, and
the server exits on ``shutdown``/``exit`` and when its input closes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from lsp_helpers import GG204_CODE, SERVER_COMMAND

SITECUSTOMIZE = textwrap.dedent(
    """\
    import os, sys, threading, time

    FLAG = os.environ.get("GRADGUARD_TEST_NOISE_FLAG")

    def _noise():
        while not os.path.exists(FLAG):
            time.sleep(0.02)
        print("stray print to stdout")
        sys.stdout.flush()
        os.write(1, b"stray write to fd 1\\n")

    if FLAG:
        threading.Thread(target=_noise, daemon=True).start()
    """
)


class RawClient:
    """A minimal LSP client on pipes that keeps every byte the server wrote."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            SERVER_COMMAND,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )
        self.raw = bytearray()
        self.messages: list[dict] = []
        self.stderr = bytearray()
        self._lock = threading.Lock()
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self._id = 0

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        while chunk := self.process.stdout.read1(65536):
            with self._lock:
                self.raw.extend(chunk)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        while chunk := self.process.stderr.read1(65536):
            self.stderr.extend(chunk)

    def send(self, method: str, params: object, *, request: bool = False) -> int | None:
        message: dict = {"jsonrpc": "2.0", "method": method, "params": params}
        if request:
            self._id += 1
            message["id"] = self._id
        body = json.dumps(message).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()
        return message.get("id")

    def parsed(self) -> list[dict]:
        """Parse everything received; fails on any byte that is not a message."""
        with self._lock:
            data = bytes(self.raw)
        messages = []
        while data:
            header, separator, rest = data.partition(b"\r\n\r\n")
            assert separator, f"not an LSP header: {data[:80]!r}"
            fields = dict(line.split(": ", 1) for line in header.decode("ascii").split("\r\n"))
            assert set(fields) <= {"Content-Length", "Content-Type"}, fields
            length = int(fields["Content-Length"])
            if len(rest) < length:
                break  # still arriving
            messages.append(json.loads(rest[:length]))
            data = rest[length:]
        return messages

    def wait_for(self, predicate, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.parsed():
                if predicate(message):
                    return message
            time.sleep(0.02)
        raise AssertionError(f"timed out; stderr: {self.stderr.decode(errors='replace')[-2000:]}")

    def initialize(self, root: Path) -> None:
        request = self.send(
            "initialize",
            {"processId": os.getpid(), "rootUri": root.as_uri(), "capabilities": {}},
            request=True,
        )
        self.wait_for(lambda m: m.get("id") == request)
        self.send("initialized", {})


def test_stdout_carries_only_the_protocol(tmp_path):
    flag = tmp_path / "noise"
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    pythonpath = os.pathsep.join([str(tmp_path / "site"), os.environ.get("PYTHONPATH", "")])
    client = RawClient({"PYTHONPATH": pythonpath, "GRADGUARD_TEST_NOISE_FLAG": str(flag)})
    try:
        client.initialize(tmp_path)
        flag.write_text("now")  # stray output from inside the server process from here on
        time.sleep(0.3)
        uri = (tmp_path / "t.py").as_uri()
        client.send(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": uri,
                    "languageId": "python",
                    "version": 1,
                    "text": GG204_CODE,
                }
            },
        )
        published = client.wait_for(lambda m: m.get("method") == "textDocument/publishDiagnostics")
        assert published["params"]["diagnostics"][0]["code"] == "GG204"
        shutdown = client.send("shutdown", None, request=True)
        client.wait_for(lambda m: m.get("id") == shutdown)
        client.send("exit", None)
        assert client.process.wait(timeout=10) == 0
        time.sleep(0.1)
        client.parsed()  # every byte of stdout is a well-formed message
        stderr = client.stderr.decode(errors="replace")
        assert "stray print to stdout" in stderr and "stray write to fd 1" in stderr
        assert "GradGuard 0.1.0 language server" in stderr
        assert f"python: {sys.executable}" in stderr
        assert "pygls 2.1.1, lsprotocol 2025.0.0, jedi 0.20" in stderr
        assert "default settings:" in stderr
        logged = [m for m in client.parsed() if m.get("method") == "window/logMessage"]
        assert any("GradGuard 0.1.0" in m["params"]["message"] for m in logged)
    finally:
        if client.process.poll() is None:
            client.process.kill()


def test_exits_when_stdin_closes(tmp_path):
    client = RawClient()
    try:
        client.initialize(tmp_path)
        assert client.process.stdin is not None
        client.process.stdin.close()
        client.process.wait(timeout=10)
    finally:
        if client.process.poll() is None:
            client.process.kill()
            raise AssertionError("the server kept running after stdin closed")


def test_exit_without_shutdown_still_exits(tmp_path):
    client = RawClient()
    try:
        client.initialize(tmp_path)
        client.send("exit", None)
        assert client.process.wait(timeout=10) == 1  # LSP: exit without shutdown
    finally:
        if client.process.poll() is None:
            client.process.kill()
            raise AssertionError("the server kept running after exit")


def test_default_debounce_coalesces_a_burst(tmp_path):
    """Without settings the debounce is 300 ms: five quick edits give one analysis."""
    client = RawClient()
    try:
        client.initialize(tmp_path)
        uri = (tmp_path / "burst.py").as_uri()
        client.send(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": ""}},
        )
        client.wait_for(lambda m: m.get("method") == "textDocument/publishDiagnostics")
        for version in range(2, 7):
            client.send(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": uri, "version": version},
                    "contentChanges": [{"text": GG204_CODE + "\n" * version}],
                },
            )
        last_change = time.monotonic()
        published = client.wait_for(
            lambda m: (
                m.get("method") == "textDocument/publishDiagnostics"
                and m["params"].get("version") == 6
            )
        )
        assert time.monotonic() - last_change >= 0.3
        assert published["params"]["diagnostics"][0]["code"] == "GG204"
        time.sleep(0.2)
        versions = [
            m["params"].get("version")
            for m in client.parsed()
            if m.get("method") == "textDocument/publishDiagnostics"
        ]
        assert versions == [1, 6]
    finally:
        client.process.kill()
