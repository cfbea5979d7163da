"""A minimal LSP client over stdio: JSON-RPC framing, requests, notifications, and
a record of every message with the time it arrived. It answers the few requests a
server may send (configuration, capability registration, progress, refresh)."""

from __future__ import annotations

import itertools
import json
import os
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

Message = dict[str, Any]


class LspClient:
    def __init__(
        self,
        command: Sequence[str],
        *,
        cwd: str | Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._responses: dict[int, queue.Queue[tuple[float, Message]]] = {}
        self._notifications: queue.Queue[tuple[float, Message]] = queue.Queue()
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # -- wire ---------------------------------------------------------------------

    def _send(self, message: Message) -> float:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        data = f"Content-Length: {len(body)}\r\n\r\n".encode("ascii") + body
        assert self.process.stdin is not None
        with self._lock:
            sent = time.perf_counter()
            self.process.stdin.write(data)
            self.process.stdin.flush()
        return sent

    def _read_loop(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if length is None:
                continue
            message = json.loads(stream.read(length))
            arrived = time.perf_counter()
            if "id" in message and "method" in message:
                self._answer(message)
            elif "id" in message:
                slot = self._responses.get(message["id"])
                if slot is not None:
                    slot.put((arrived, message))
            else:
                self._notifications.put((arrived, message))

    def _answer(self, request: Message) -> None:
        result: Any = None
        if request["method"] == "workspace/configuration":
            result = [None for _ in request.get("params", {}).get("items", [])]
        self._send({"id": request["id"], "result": result})

    # -- API ----------------------------------------------------------------------

    def request(self, method: str, params: Any, timeout: float = 60.0) -> tuple[float, Message]:
        """Send a request; (round-trip seconds, response)."""
        request_id = next(self._ids)
        slot: queue.Queue[tuple[float, Message]] = queue.Queue()
        self._responses[request_id] = slot
        sent = self._send({"id": request_id, "method": method, "params": params})
        arrived, response = slot.get(timeout=timeout)
        del self._responses[request_id]
        if "error" in response:
            raise RuntimeError(f"{method} failed: {response['error']}")
        return arrived - sent, response

    def notify(self, method: str, params: Any) -> float:
        return self._send({"method": method, "params": params})

    def wait_for(
        self, predicate: Callable[[Message], bool], timeout: float = 60.0
    ) -> tuple[float, Message]:
        """The first notification (from now on, in arrival order) that ``predicate`` accepts;
        earlier unmatched ones are dropped."""
        deadline = time.perf_counter() + timeout
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise TimeoutError("no matching notification")
            arrived, message = self._notifications.get(timeout=remaining)
            if predicate(message):
                return arrived, message

    def diagnostics_for(
        self, uri: str, version: int, timeout: float = 60.0
    ) -> tuple[float, Message]:
        def matches(message: Message) -> bool:
            params = message.get("params") or {}
            return (
                message.get("method") == "textDocument/publishDiagnostics"
                and params.get("uri") == uri
                and params.get("version") == version
            )

        return self.wait_for(matches, timeout)

    def rss_mib(self, *, with_children: bool = True) -> float:
        """Resident set of the server (and its child processes, such as jedi's helper)."""
        pids = [self.process.pid]
        if with_children:
            pids += _descendants(self.process.pid)
        total = 0
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                continue
        return total / 1024

    def close(self) -> None:
        try:
            self.request("shutdown", None, timeout=10)
            self.notify("exit", None)
            self.process.wait(timeout=10)
        except Exception:
            self.process.kill()
            self.process.wait()


def _descendants(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            child = int(entry)
            found += [child, *_descendants(child)]
    return found
