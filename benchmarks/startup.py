"""Language server start-up: process start to the ``initialize`` response, and to the
first document's diagnostics (what deferring imports must not simply move there).

``python -m benchmarks.startup [--runs N] [--base REF]`` starts the server N times in an
empty folder (no jedi answers kept: :func:`benchmarks.editor.start`) and opens one small
training script; it prints p50 / p95 of both and the load average at the start. With
``--base``, the server of that git ref (its ``server/`` archived, first on
``PYTHONPATH``) starts alternately with this checkout's, for the difference in one run.
"""

from __future__ import annotations

import argparse
import compileall
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import percentile
from benchmarks.editor import open_document, start
from benchmarks.keystrokes import archive
from benchmarks.rerun import compile_gradguard, load_average

SCRIPT = """\
import torch


def train_one_epoch(model, loader):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for batch, target in loader:
        loss = torch.nn.functional.mse_loss(model(batch), target)
        loss.backward()
        optimizer.step()
"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` so far (steadier than wall time under load)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(runs: int, env: dict[str, str] | None = None) -> dict[str, list[float]]:
    folder = Path(tempfile.mkdtemp(prefix="gradguard-startup-"))
    path = folder / "train.py"
    path.write_text(SCRIPT, encoding="utf-8")
    initialize, initialize_cpu, first, first_cpu = [], [], [], []
    for _ in range(runs):
        client, startup = start(folder, env=env)
        try:
            initialize_cpu.append(cpu_seconds(client.process.pid))
            open_document(client, path, SCRIPT)
            first.append(time.perf_counter() - client.started)
            first_cpu.append(cpu_seconds(client.process.pid))
            initialize.append(startup)
        finally:
            client.close()
    return {
        "initialize (wall)": initialize,
        "initialize (server CPU)": initialize_cpu,
        "first diagnostics (wall)": first,
        "first diagnostics (server CPU)": first_cpu,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup", description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--base", help="also start this git ref's server, alternately")
    args = parser.parse_args(argv)
    compile_gradguard()  # and keep it: an installed GradGuard has its bytecode
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    servers: dict[str, dict[str, str] | None] = {"this checkout": None}
    if args.base:
        base = archive(args.base)
        compileall.compile_dir(str(base), quiet=1)
        servers = {args.base: {"PYTHONPATH": str(base)}, **servers}
    load = load_average()
    figures: dict[str, dict[str, list[float]]] = {name: {} for name in servers}
    for _ in range(args.runs):  # alternately, so that load changes hit both alike
        for name, env in servers.items():
            for key, values in measure(1, env).items():
                figures[name].setdefault(key, []).extend(values)
    print(f"load average at start: {load}, at the end: {load_average()}; {args.runs} runs")
    print("| server | from process start to | p50 s | p95 s |")
    print("| --- | --- | ---: | ---: |")
    for server, rows in figures.items():
        for name, values in rows.items():
            p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
            print(f"| {server} | {name} | {p50:.3f} | {p95:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
