"""Typing in realistic scripts, main against this branch in one run.

``python -m benchmarks.keystrokes [--base main] [--sizes 2000,10000]`` writes the scripts of
:mod:`benchmarks.realistic`, then for each size starts the server of ``--base`` (a
``git archive`` of it, put first on ``PYTHONPATH``) and the server of this checkout,
alternately, and types :data:`benchmarks.realistic.TYPED` inside a function body, one
character per ``didChange`` (the first one a new line), each edit waiting for the
diagnostics of its version (``debounceMs: 0``). It prints p50 / p95 per server and the
load average before and after, and checks that this checkout's last diagnostics are
those of a full analysis of the last text.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, percentile
from benchmarks.editor import _position, open_document, start, uri_of
from benchmarks.realistic import TYPED, edit_point, realistic_script
from benchmarks.rerun import load_average


def archive(ref: str) -> Path:
    """``server/`` of ``ref`` in a temporary folder (its ``gradguard`` package)."""
    folder = Path(tempfile.mkdtemp(prefix="gradguard-base-"))
    data = subprocess.run(
        ["git", "archive", ref, "server"], cwd=REPO, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=data, check=True)
    return folder / "server"


def type_in(path: Path, env: dict[str, str] | None) -> dict[str, Any]:
    """Open ``path`` and type; seconds from each didChange to its diagnostics."""
    text = path.read_text()
    lines = text.split("\n")
    line, indent = edit_point(text)
    uri = uri_of(path)
    client, _ = start(path.parent, env=env)
    latencies: list[float] = []
    missing = 0
    try:
        open_document(client, path, text)
        typed = ""
        for number in range(len(TYPED) + 1):
            version = number + 2
            if number == 0:  # Enter at the end of the line: a new, indented line
                at = _position(line, len(lines[line]))
                change = {"range": {"start": at, "end": at}, "text": "\n" + indent}
            else:
                at = _position(line + 1, len(indent) + len(typed))
                change = {"range": {"start": at, "end": at}, "text": TYPED[number - 1]}
                typed += TYPED[number - 1]
            sent = client.notify(
                "textDocument/didChange",
                {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]},
            )
            try:
                arrived, message = client.diagnostics_for(uri, version, timeout=120)
            except TimeoutError:
                missing += 1
                continue
            latencies.append(arrived - sent)
        last = message["params"]["diagnostics"]
    finally:
        client.close()
    lines[line + 1 : line + 1] = [indent + TYPED]
    return {"change": latencies, "missing": missing, "last": last, "text": "\n".join(lines)}


def _same_as_full(diagnostics: list[dict[str, Any]], text: str, path: Path) -> bool:
    from gradguard.engine import analyze

    expected = sorted(
        (f.code, f.span.start.line, f.message) for f in analyze(text, str(path)).findings
    )
    got = sorted((d["code"], d["range"]["start"]["line"], d["message"]) for d in diagnostics)
    return got == expected


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.keystrokes", description=__doc__)
    parser.add_argument("--base", default="main")
    parser.add_argument("--sizes", default="2000,10000")
    parser.add_argument("--rounds", type=int, default=1, help="sessions per server and size")
    args = parser.parse_args(argv)
    base_env = {"PYTHONPATH": str(archive(args.base))}
    folder = Path(tempfile.mkdtemp(prefix="gradguard-keystrokes-"))
    before = load_average()
    started = time.perf_counter()
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        path = folder / f"train_{size}.py"
        path.write_text(realistic_script(size))
        figures: dict[str, list[float]] = {args.base: [], "branch": []}
        agreed = []
        for _ in range(args.rounds):
            for name, env in ((args.base, base_env), ("branch", None)):
                session = type_in(path, env)
                figures[name] += session["change"]
                if name == "branch":
                    agreed.append(_same_as_full(session["last"], session["text"], path))
        lines = path.read_text().count("\n")
        for name, values in figures.items():
            rows.append((lines, name, values, all(agreed) if name == "branch" else None))
    took = time.perf_counter() - started
    print(f"load average before: {before}; after: {load_average()}; {took:.0f} s")
    print(f"typed {len(TYPED) + 1} edits per session, each waiting for its diagnostics")
    print("| lines | server | edits | p50 ms | p95 ms | last = full analysis |")
    print("| ---: | --- | ---: | ---: | ---: | --- |")
    for lines, name, values, same in rows:
        p50, p95 = percentile(values, 0.5) * 1000, percentile(values, 0.95) * 1000
        check = "" if same is None else ("yes" if same else "NO")
        print(f"| {lines:,} | {name} | {len(values)} | {p50:.0f} | {p95:.0f} | {check} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
