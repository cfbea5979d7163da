"""Code action and hover on the realistic scripts, ``--base`` against this checkout in one run.

``python -m benchmarks.requests [--base main] [--sizes 2000,10000] [--edits 20]`` writes
the scripts of :mod:`benchmarks.realistic`; for each size it starts the server of
``--base`` (a ``git archive`` of it, first on ``PYTHONPATH``) and this checkout's,
alternately, opens the script and waits for its diagnostics, hovers three names cold
(the middle copy's optimizer built in ``main()``, the trainer's ``self.optimizer``, the
``optimizer.step()`` GG402 flags); then ``edits`` times types one character of
:data:`benchmarks.realistic.TYPED` (waiting for its diagnostics), asks for the code
actions of the GG402 diagnostic nearest the edit, and hovers one of the three names
(warm). It prints p50 / p95 per server (and of didChange to diagnostics) and the load
average before and after. Budgets (issue 16): code action p95 <= 10 ms, hover <= 100 ms.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import percentile
from benchmarks.editor import _position, open_document, start, uri_of
from benchmarks.keystrokes import archive
from benchmarks.lsp_client import LspClient
from benchmarks.realistic import TYPED, edit_point, realistic_script
from benchmarks.rerun import load_average


def hover_points(lines: list[str], middle: int) -> list[dict[str, int]]:
    """The middle copy's optimizer in ``main()``, ``self.optimizer`` and the flagged step."""
    built = f"optimizer_{middle} = build_optimizer_{middle}("
    number = next(n for n, line in enumerate(lines) if built in line)
    points = [_position(number, lines[number].index(built) + 2)]
    trainer = next(n for n, line in enumerate(lines) if line.startswith(f"class Trainer{middle}:"))
    number = next(n for n in range(trainer, len(lines)) if "self.optimizer = " in lines[n])
    points.append(_position(number, lines[number].index("self.optimizer") + 6))
    step = next(n for n, line in enumerate(lines) if line.startswith(f"def train_step_{middle}("))
    number = next(n for n in range(step, len(lines)) if "optimizer.step()" in lines[n])
    points.append(_position(number, lines[number].index("optimizer") + 2))
    return points


def session(path: Path, edits: int, env: dict[str, str] | None) -> dict[str, list[float]]:
    text = path.read_text()
    lines = text.split("\n")
    points = hover_points(lines, text.count("def train_one_epoch(") // 2)
    line, indent = edit_point(text)
    uri = uri_of(path)
    client, _ = start(path.parent, env=env)
    figures: dict[str, list[float]] = {
        "didChange to diagnostics": [],
        "hover (cold)": [],
        "code action": [],
        "hover (warm)": [],
        "hover (warm, with content)": [],
    }
    try:
        open_document(client, path, text)
        figures["hover (cold)"] = [abs(_hover(client, uri, point)) for point in points]
        typed = "\n" + indent + TYPED
        column = len(lines[line])
        for number in range(edits):
            version = number + 2
            at = _position(line, column) if number == 0 else _position(line + 1, column)
            change = {"range": {"start": at, "end": at}, "text": typed[number % len(typed)]}
            sent = client.notify(
                "textDocument/didChange",
                {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]},
            )
            column = len(indent) if number == 0 else column + 1
            arrived, message = client.diagnostics_for(uri, version, timeout=120)
            figures["didChange to diagnostics"].append(arrived - sent)
            flagged = [d for d in message["params"]["diagnostics"] if d.get("code") == "GG402"]
            if flagged:
                nearest = min(flagged, key=lambda d: abs(d["range"]["start"]["line"] - line))
                seconds, _ = client.request(
                    "textDocument/codeAction",
                    {
                        "textDocument": {"uri": uri},
                        "range": nearest["range"],
                        "context": {"diagnostics": [nearest], "triggerKind": 1},
                    },
                )
                figures["code action"].append(seconds)
            point = points[number % len(points)]
            if point["line"] > line:  # the new line moved it down by one
                point = {**point, "line": point["line"] + 1}
            seconds = _hover(client, uri, point)
            figures["hover (warm)"].append(abs(seconds))
            if seconds > 0:
                figures["hover (warm, with content)"].append(seconds)
    finally:
        client.close()
    return figures


def _hover(client: LspClient, uri: str, position: dict[str, int]) -> float:
    """Seconds; negative when the hover had no content (told apart in the table)."""
    seconds, response = client.request(
        "textDocument/hover", {"textDocument": {"uri": uri}, "position": position}
    )
    return seconds if response.get("result") else -seconds


def compare(base: str | None, sizes: list[int], edits: int) -> dict[str, Any]:
    """``session`` of ``base`` and this checkout per size: {lines: {server: {kind: values}}}."""
    servers: dict[str, dict[str, str] | None] = {"this checkout": None}
    if base:
        servers = {base: {"PYTHONPATH": str(archive(base))}, **servers}
    folder = Path(tempfile.mkdtemp(prefix="gradguard-requests-"))
    out: dict[str, Any] = {}
    for size in sizes:
        path = folder / f"train_{size}.py"
        path.write_text(realistic_script(size))
        lines = path.read_text().count("\n")
        out[str(lines)] = {name: session(path, edits, env) for name, env in servers.items()}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.requests", description=__doc__)
    parser.add_argument("--base", default="main")
    parser.add_argument("--sizes", default="2000,10000")
    parser.add_argument("--edits", type=int, default=20)
    args = parser.parse_args(argv)
    before, started = load_average(), time.perf_counter()
    figures = compare(args.base, [int(s) for s in args.sizes.split(",")], args.edits)
    took = time.perf_counter() - started
    print(f"load average before: {before}; after: {load_average()}; {took:.0f} s")
    print("| lines | server | request | count | p50 ms | p95 ms |")
    print("| ---: | --- | --- | ---: | ---: | ---: |")
    for lines, servers in figures.items():
        for name, kinds in servers.items():
            for kind, values in kinds.items():
                p50, p95 = percentile(values, 0.5) * 1000, percentile(values, 0.95) * 1000
                row = f"| {int(lines):,} | {name} | {kind} | {len(values)} |"
                print(f"{row} {p50:.1f} | {p95:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
