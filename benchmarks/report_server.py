"""The report's sections on the run itself (steps and load) and on the server against
another ref (start-up, realistic scripts): :func:`benchmarks.report.render` calls these."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Sections measured by hand (not by this run), rendered at the end as they are.
BY_HAND = Path(__file__).with_name("by-hand.md")


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return [*out, ""]


def _ms(value: float) -> str:
    if value != value:  # NaN: no sample
        return "n/a"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def steps_section(steps: list[dict[str, Any]]) -> list[str]:
    """Each step's start (minutes into the run) and the 1-minute load average then."""
    if not steps:
        return []
    rows = [[s["step"], f"{s['at_s'] / 60:.1f}", str(s["load"])] for s in steps]
    return [
        "Steps of this run (the machine is shared: the load average is what other work",
        "ran beside it; 2 cores):",
        "",
        *table(["step", "started (min)", "load average (1 min)"], rows),
    ]


def startup_section(startup: dict[str, Any] | None) -> list[str]:
    if not startup:
        return []
    rows = []
    for server, kinds in startup["rows"].items():
        for kind, figure in kinds.items():
            rows.append([server, kind, _ms(figure["p50"]), _ms(figure["p95"])])
    before, after = startup["load"]
    return [
        "## Server start (`benchmarks.startup`)",
        "",
        f"A fresh `gradguard server` per run, {startup['runs']} runs per server, alternately;",
        "one small training script opened after `initialize`. Load average before / after:",
        f"{before} / {after}. Milliseconds (CPU: the server process's user + system time).",
        "",
        *table(["server", "from process start to", "p50 ms", "p95 ms"], rows),
    ]


def realistic_section(realistic: dict[str, Any] | None) -> list[str]:
    if not realistic:
        return []
    rows = []
    for lines, servers in realistic["rows"].items():
        for server, kinds in servers.items():
            for kind, figure in kinds.items():
                n = f"{figure['n']:.0f}"
                rows.append(
                    [f"{int(lines):,}", server, kind, n, _ms(figure["p50"]), _ms(figure["p95"])]
                )
    before, after = realistic["load"]
    return [
        "## Realistic scripts (`benchmarks.requests`)",
        "",
        "The scripts of `benchmarks/realistic.py` (library code, a trainer class, a `main()`",
        f"calling every function). Per server: open, three cold hovers, then {realistic['edits']}",
        "characters typed inside `Trainer.train_one_epoch` (each waiting for its diagnostics),",
        "each followed by a code action on the nearest GG402 diagnostic and a hover on one of",
        "the three names (*with content*: the hovers that returned text). Load average before /",
        f"after: {before} / {after}. Milliseconds.",
        "",
        *table(["lines", "server", "request", "n", "p50 ms", "p95 ms"], rows),
    ]


def by_hand_section() -> list[str]:
    return [BY_HAND.read_text().rstrip(), ""] if BY_HAND.exists() else []
