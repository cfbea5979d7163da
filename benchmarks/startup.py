"""Language server start-up: process start to the ``initialize`` response, and to the
first document's diagnostics (what deferring imports must not simply move there).

``python -m benchmarks.startup [--runs N] [--base REF] [--installed]`` starts the server
N times in an empty folder (no jedi answers kept: :func:`benchmarks.editor.start`) and
opens one small training script; it prints p50 / p95 of both and the load average at the
start. With ``--base``, the server of that git ref (its ``server/`` archived, first on
``PYTHONPATH``) starts alternately with this checkout's, for the difference in one run.

With ``--installed``, each tree is instead built as a wheel and installed in two fresh
virtual environments, as a first-time user gets it: by pip (which writes every module's
bytecode at install) and with ``--no-compile`` (uv's default: no bytecode until the first
start; removed again before every start here, so each one is a first start).
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.common import REPO, percentile
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


@dataclass(frozen=True)
class Server:
    """One server to start: its command (None: this interpreter), more environment, and
    what to do before each start."""

    command: list[str] | None = None
    env: dict[str, str] | None = None
    before_start: Callable[[], None] = field(default=lambda: None)


def measure(runs: int, server: Server) -> dict[str, list[float]]:
    folder = Path(tempfile.mkdtemp(prefix="gradguard-startup-"))
    path = folder / "train.py"
    path.write_text(SCRIPT, encoding="utf-8")
    initialize, initialize_cpu, first, first_cpu = [], [], [], []
    for _ in range(runs):
        server.before_start()
        client, startup = start(folder, env=server.env, command=server.command)
        try:
            initialize_cpu.append(cpu_seconds(client.process.pid))
            open_document(client, path, SCRIPT)
            first.append(time.perf_counter() - client.started)
            first_cpu.append(cpu_seconds(client.process.pid))
            initialize.append(startup)
        finally:
            client.close()
    shutil.rmtree(folder, ignore_errors=True)
    return {
        "initialize (wall)": initialize,
        "initialize (server CPU)": initialize_cpu,
        "first diagnostics (wall)": first,
        "first diagnostics (server CPU)": first_cpu,
    }


def source_tree(ref: str | None) -> Path:
    """This checkout (None) or the whole tree of ``ref``, extracted (to build a wheel)."""
    if ref is None:
        return REPO
    folder = Path(tempfile.mkdtemp(prefix="gradguard-tree-"))
    data = subprocess.run(["git", "archive", ref], cwd=REPO, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=data, check=True)
    return folder


def installed(ref: str | None, name: str) -> dict[str, Server]:
    """The wheel of ``ref``'s tree in two fresh environments (see the module's doc)."""
    work = Path(tempfile.mkdtemp(prefix="gradguard-installed-"))
    wheels = work / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [
            *pip,
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(source_tree(ref)),
        ],
        check=True,
        capture_output=True,
    )
    wheel = str(next(wheels.glob("gradguard-*.whl")))
    servers = {}
    for label, flags in (("pip", []), ("no bytecode", ["--no-compile"])):
        venv = work / label.replace(" ", "-")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = str(venv / "bin" / "python")
        subprocess.run(
            [python, "-m", "pip", "--disable-pip-version-check", "-q", "install", *flags, wheel],
            check=True,
            capture_output=True,
        )
        clean = _bytecode_remover(venv) if flags else (lambda: None)
        env = {"PYTHONPATH": "", "PYTHONDONTWRITEBYTECODE": ""}
        servers[f"{name}, installed ({label})"] = Server(
            [python, "-m", "gradguard", "server"], env, clean
        )
    return servers


def _bytecode_remover(venv: Path) -> Callable[[], None]:
    def remove() -> None:
        for cache in venv.glob("lib/python*/site-packages/**/__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)

    return remove


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup", description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--base", help="also start this git ref's server, alternately")
    parser.add_argument(
        "--installed", action="store_true", help="start wheels installed in fresh venvs"
    )
    args = parser.parse_args(argv)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    servers = _servers(args.base, args.installed)
    load = load_average()
    figures: dict[str, dict[str, list[float]]] = {name: {} for name in servers}
    for _ in range(args.runs):  # alternately, so that load changes hit both alike
        for name, server in servers.items():
            for key, values in measure(1, server).items():
                figures[name].setdefault(key, []).extend(values)
    print(f"load average at start: {load}, at the end: {load_average()}; {args.runs} runs")
    print("| server | from process start to | p50 s | p95 s |")
    print("| --- | --- | ---: | ---: |")
    for name, rows in figures.items():
        for row, values in rows.items():
            p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
            print(f"| {name} | {row} | {p50:.3f} | {p95:.3f} |")
    return 0


def _servers(base: str | None, wheels: bool) -> dict[str, Server]:
    if wheels:
        return {**(installed(base, base) if base else {}), **installed(None, "this checkout")}
    compile_gradguard()  # and keep it: an installed GradGuard has its bytecode
    servers = {"this checkout": Server()}
    if base:
        tree = archive(base)
        compileall.compile_dir(str(tree), quiet=1)
        servers = {base: Server(env={"PYTHONPATH": str(tree)}), **servers}
    return servers


if __name__ == "__main__":
    sys.exit(main())
