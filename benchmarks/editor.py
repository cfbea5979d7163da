"""Editor latency and memory, through a real LSP client talking to ``gradguard server``
over stdio with ``debounceMs: 0`` (push diagnostics, as most editors use)."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import summary_ms
from benchmarks.lsp_client import LspClient, Message
from benchmarks.scripts import write_workspace

SERVER = [sys.executable, "-m", "gradguard", "server"]
CAPABILITIES: dict[str, Any] = {
    "textDocument": {
        "synchronization": {"didSave": True, "dynamicRegistration": False},
        "publishDiagnostics": {"versionSupport": True, "relatedInformation": True},
        "hover": {"contentFormat": ["markdown", "plaintext"]},
        # As VS Code declares it: fix-all's edit is resolved when it is chosen.
        "codeAction": {
            "codeActionLiteralSupport": {
                "codeActionKind": {"valueSet": ["quickfix", "source", "source.fixAll"]}
            },
            "dataSupport": True,
            "resolveSupport": {"properties": ["edit"]},
        },
    },
    "workspace": {"workspaceEdit": {"documentChanges": True}, "workspaceFolders": True},
    "general": {"positionEncodings": ["utf-16"]},
}


def uri_of(path: Path) -> str:
    return path.resolve().as_uri()


def start(
    folder: Path,
    *,
    incremental: bool = True,
    env: dict[str, str] | None = None,
    command: list[str] | None = None,
) -> tuple[LspClient, float]:
    """A server for ``folder``; (client, seconds from process start to the initialize
    response). ``incremental``: the server's setting of that name; ``env``: more
    environment (``PYTHONPATH`` of another GradGuard, for a comparison in one run);
    ``command``: another server command (an installed GradGuard's interpreter)."""
    # No jedi answers kept from an earlier session (gradguard.answers): every start is cold.
    answers = tempfile.mkdtemp(prefix="gradguard-answers-")
    environment = {**os.environ, "GRADGUARD_CACHE_DIR": answers, **(env or {})}
    client = LspClient(command or SERVER, cwd=folder, env=environment)
    client.request(
        "initialize",
        {
            "processId": None,
            "rootUri": uri_of(folder),
            "workspaceFolders": [{"uri": uri_of(folder), "name": folder.name}],
            "capabilities": CAPABILITIES,
            "initializationOptions": {"gradguard": {"debounceMs": 0, "incremental": incremental}},
        },
    )
    startup = time.perf_counter() - client.started
    client.notify("initialized", {})
    return client, startup


def open_document(client: LspClient, path: Path, text: str) -> tuple[float, Message]:
    uri = uri_of(path)
    sent = client.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
    )
    arrived, message = client.diagnostics_for(uri, 1, timeout=600)
    return arrived - sent, message


def _find(lines: list[str], needle: str, start: int = 0) -> tuple[int, int]:
    for number in range(start, len(lines)):
        column = lines[number].find(needle)
        if column >= 0:
            return number, column
    raise ValueError(f"{needle!r} not in the script")


def _position(line: int, character: int) -> dict[str, int]:
    return {"line": line, "character": character}


def edit_session(
    folder: Path,
    path: Path,
    edits: int,
    *,
    incremental: bool = True,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Open ``path``; ``edits`` keystroke-like edits, each followed by a code action
    request; then hovers. Times are seconds. Every tenth edit's diagnostics (and the
    last's) are compared with a full analysis of that text in this process, after the
    session (not between edits: the pause would let the server's full check run)."""
    text = path.read_text()
    lines = text.splitlines()
    uri = uri_of(path)
    client, startup = start(folder, incremental=incremental, env=env)
    try:
        open_latency, _ = open_document(client, path, text)
        # Cold hovers: the first hover on each kind of symbol, before jedi is warm.
        opt_line, opt_col = _find(lines, "optimizer = optim.SGD")
        model_line, model_col = _find(lines, "model = ResidualNet()")
        flagged_line, flagged_col = _find(lines, "optimizer.zero_grad()")
        hover_points = [
            _position(opt_line, opt_col + 2),
            _position(model_line, model_col + 2),
            _position(flagged_line, flagged_col + 12),
        ]
        cold_hovers = [_hover(client, uri, point) for point in hover_points]
        # The edited line: in the middle of the file, inside a training function.
        target_line, _ = _find(lines, "criterion = nn.CrossEntropyLoss()", len(lines) // 2 - 100)
        current = lines[target_line]
        change_latency: list[float] = []
        action_latency: list[float] = []
        actions_offered = 0
        to_compare: list[tuple[list[dict[str, Any]], str]] = []
        for number in range(edits):
            version = number + 2
            replacement = f"    criterion = nn.CrossEntropyLoss(label_smoothing=0.{number % 10})"
            sent = client.notify(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": uri, "version": version},
                    "contentChanges": [
                        {
                            "range": {
                                "start": _position(target_line, 0),
                                "end": _position(target_line, len(current)),
                            },
                            "text": replacement,
                        }
                    ],
                },
            )
            current = replacement
            arrived, message = client.diagnostics_for(uri, version, timeout=600)
            change_latency.append(arrived - sent)
            diagnostics = message["params"]["diagnostics"]
            if number % 10 == 0 or number == edits - 1:
                lines[target_line] = replacement
                to_compare.append((diagnostics, "\n".join(lines) + "\n"))
            if diagnostics:
                chosen = next((d for d in diagnostics if d.get("code") == "GG102"), diagnostics[0])
                seconds, response = client.request(
                    "textDocument/codeAction",
                    {
                        "textDocument": {"uri": uri},
                        "range": chosen["range"],
                        "context": {"diagnostics": [chosen], "triggerKind": 1},
                    },
                )
                action_latency.append(seconds)
                actions_offered += len(response.get("result") or [])
        # Warm hovers: jedi has had the whole session to answer.
        warm_hovers = [_hover(client, uri, hover_points[i % 3]) for i in range(max(edits, 3))]
        rss = client.rss_mib()
    finally:
        client.close()
    agreed = sum(_same_as_full_analysis(d, edited, path) for d, edited in to_compare)
    return {
        "lines": len(lines),
        "startup": startup,
        "open": open_latency,
        "change": change_latency,
        "code_action": action_latency,
        "actions_offered": actions_offered,
        "incremental": incremental,
        "compared_with_full": len(to_compare),
        "same_as_full": agreed,
        "hover_cold": cold_hovers,
        "hover_warm": warm_hovers,
        "rss_mib": rss,
    }


def _same_as_full_analysis(diagnostics: list[dict[str, Any]], text: str, path: Path) -> bool:
    """The published diagnostics are those of a full analysis of ``text`` (codes and
    positions; the generated scripts are ASCII, so columns need no conversion)."""
    from gradguard.engine import analyze

    expected = [
        (f.code, f.span.start.line, f.span.start.column, f.message)
        for f in analyze(text, str(path)).findings
    ]
    got = [
        (d["code"], d["range"]["start"]["line"], d["range"]["start"]["character"], d["message"])
        for d in diagnostics
    ]
    return sorted(got) == sorted(expected)


def _hover(client: LspClient, uri: str, position: dict[str, int]) -> float:
    seconds, _ = client.request(
        "textDocument/hover", {"textDocument": {"uri": uri}, "position": position}
    )
    return seconds


def startup_times(folder: Path, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        client, startup = start(folder)
        times.append(startup)
        client.close()
    return times


def memory_after_opening(folder: Path, paths: list[Path], settle_s: float) -> dict[str, Any]:
    """RSS of the server (and of its children: jedi's helper) after opening ``paths`` and
    receiving the diagnostics of each; again after ``settle_s`` of jedi answering."""
    client, _ = start(folder)
    try:
        before = client.rss_mib()
        started = time.perf_counter()
        opened = 0
        for path in paths:
            text = path.read_text(encoding="utf-8", errors="replace")
            open_document(client, path, text)
            opened += 1
        open_seconds = time.perf_counter() - started
        after_open = client.rss_mib()
        server_only = client.rss_mib(with_children=False)
        samples = [after_open]
        deadline = time.perf_counter() + settle_s
        while time.perf_counter() < deadline:
            time.sleep(1.0)
            samples.append(client.rss_mib())
        settled_server = client.rss_mib(with_children=False)
    finally:
        client.close()
    return {
        "files": opened,
        "lines": sum(p.read_bytes().count(b"\n") for p in paths),
        "seconds_to_open_all": open_seconds,
        "rss_start_mib": before,
        "rss_after_open_mib": after_open,
        "rss_server_only_after_open_mib": server_only,
        "rss_max_while_settling_mib": max(samples),
        "rss_server_only_settled_mib": settled_server,
        "settle_s": settle_s,
    }


def run_editor(work: Path, sizes: dict[str, int], edits: int, large_edits: int,
               memory_files: list[Path], settle_s: float,
               startup_runs: int) -> dict[str, Any]:  # fmt: skip
    folder = work / "editor"
    scripts = write_workspace(folder, sizes)
    sessions = {
        name: edit_session(folder, path, edits if sizes[name] < 2000 else large_edits)
        for name, path in scripts.items()
    }
    # The same long scripts analysed whole on every edit (``incremental: false``), for
    # the difference in one run; fewer edits, as each takes most of a second.
    for name, path in scripts.items():
        if sizes[name] >= 2000:
            sessions[f"{name}, whole file"] = edit_session(
                folder, path, max(10, large_edits // 2), incremental=False
            )
    startups = startup_times(folder, startup_runs)
    startups += [session["startup"] for session in sessions.values()]
    memory_root = memory_files[0].parent if memory_files else folder
    while memory_files and not all(p.is_relative_to(memory_root) for p in memory_files):
        memory_root = memory_root.parent
    memory = memory_after_opening(memory_root, memory_files, settle_s)
    return {
        "sessions": {
            name: {
                "lines": s["lines"],
                "open_ms": s["open"] * 1000,
                "change": summary_ms(s["change"]),
                "code_action": summary_ms(s["code_action"]),
                "actions_offered": s["actions_offered"],
                "incremental": s["incremental"],
                "compared_with_full": s["compared_with_full"],
                "same_as_full": s["same_as_full"],
                "hover_cold": summary_ms(s["hover_cold"]),
                "hover_warm": summary_ms(s["hover_warm"]),
                "rss_mib": s["rss_mib"],
            }
            for name, s in sessions.items()
        },
        "startup": summary_ms(startups) | {"median_ms": statistics.median(startups) * 1000},
        "memory": memory,
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.editor [--base main] [--sizes 2000,10000] [--edits 50]``: the
    standard editor scripts, ``--base``'s server (a ``git archive``) and this checkout's
    alternately, in one run; p50 / p95 of didChange -> diagnostics, code action and hover."""
    import argparse

    from benchmarks.keystrokes import archive
    from benchmarks.rerun import load_average

    parser = argparse.ArgumentParser(prog="python -m benchmarks.editor", description=main.__doc__)
    parser.add_argument("--base", default="main")
    parser.add_argument("--sizes", default="2000,10000")
    parser.add_argument("--edits", type=int, default=50)
    args = parser.parse_args(argv)
    base_env = {"PYTHONPATH": str(archive(args.base))}
    folder = Path(tempfile.mkdtemp(prefix="gradguard-editor-"))
    sizes = {str(n): int(n) for n in args.sizes.split(",")}
    scripts = write_workspace(folder, sizes)
    before = load_average()
    print("| lines | server | didChange p50 / p95 ms | code action p50 / p95 ms "
          "| hover warm p50 / p95 ms | same as full |")  # fmt: skip
    print("| ---: | --- | ---: | ---: | ---: | --- |")
    for path in scripts.values():
        for server, env in ((args.base, base_env), ("branch", None)):
            s = edit_session(folder, path, args.edits, env=env)
            cells = [summary_ms(s[k]) for k in ("change", "code_action", "hover_warm")]
            figures = " | ".join(f"{c['p50']:.1f} / {c['p95']:.1f}" for c in cells)
            agreed = f"{s['same_as_full']} of {s['compared_with_full']}"
            print(f"| {s['lines']:,} | {server} | {figures} | {agreed} |", flush=True)
    print(f"load average before: {before}; after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
