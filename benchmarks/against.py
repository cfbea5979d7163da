"""The language server of another git ref against this tree, in one run (for
``benchmarks.run``): start-up (:mod:`benchmarks.startup`) and typing, code actions and
hovers in the realistic scripts (:mod:`benchmarks.requests`), each with the load average
before and after."""

from __future__ import annotations

import compileall
from typing import Any

from benchmarks.common import percentile
from benchmarks.keystrokes import archive
from benchmarks.requests import compare
from benchmarks.rerun import compile_gradguard, load_average
from benchmarks.startup import Server, measure


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": percentile(values, 0.5) * 1000 if values else float("nan"),
        "p95": percentile(values, 0.95) * 1000 if values else float("nan"),
    }


def startup(base: str | None, runs: int) -> dict[str, Any]:
    """p50 / p95 (ms) of start to initialize and to the first diagnostics, per server."""
    compile_gradguard()
    servers = {"this checkout": Server()}
    if base:
        tree = archive(base)
        compileall.compile_dir(str(tree), quiet=1)
        servers = {base: Server(env={"PYTHONPATH": str(tree)}), **servers}
    before = load_average()
    figures: dict[str, dict[str, list[float]]] = {name: {} for name in servers}
    for _ in range(runs):  # alternately, so that load changes hit both alike
        for name, server in servers.items():
            for key, values in measure(1, server).items():
                figures[name].setdefault(key, []).extend(values)
    rows = {
        name: {key: _summary(values) for key, values in kinds.items()}
        for name, kinds in figures.items()
    }
    return {"rows": rows, "runs": runs, "load": [before, load_average()]}


def realistic(base: str | None, sizes: list[int], edits: int) -> dict[str, Any]:
    """Per script size and server, p50 / p95 (ms) of didChange, code action and hovers."""
    before = load_average()
    figures = compare(base, sizes, edits)
    rows = {
        lines: {
            name: {kind: _summary(values) for kind, values in kinds.items()}
            for name, kinds in servers.items()
        }
        for lines, servers in figures.items()
    }
    return {"rows": rows, "edits": edits, "load": [before, load_average()]}
