"""Language server start-up: process start to the ``initialize`` response, and to the
first document's diagnostics (what deferring imports must not simply move there).

``python -m benchmarks.startup [--runs N]`` starts the server N times in an empty
folder (no jedi answers kept: :func:`benchmarks.editor.start`) and opens one small
training script; it prints p50 / p95 of both and the load average at the start.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import percentile
from benchmarks.editor import open_document, start
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


def measure(runs: int) -> dict[str, list[float]]:
    folder = Path(tempfile.mkdtemp(prefix="gradguard-startup-"))
    path = folder / "train.py"
    path.write_text(SCRIPT, encoding="utf-8")
    initialize, initialize_cpu, first, first_cpu = [], [], [], []
    for _ in range(runs):
        client, startup = start(folder)
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
    args = parser.parse_args(argv)
    compile_gradguard()  # and keep it: an installed GradGuard has its bytecode
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    load = load_average()
    figures = measure(args.runs)
    print(f"load average at start: {load}; {args.runs} runs")
    print("| from process start to | p50 s | p95 s |")
    print("| --- | ---: | ---: |")
    for name, values in figures.items():
        print(f"| {name} | {percentile(values, 0.5):.3f} | {percentile(values, 0.95):.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
