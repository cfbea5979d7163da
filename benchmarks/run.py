"""Run every benchmark and write ``docs/benchmarks.md``.

python -m benchmarks.run --base REF # the default plan, about 20 min on 2 cores (see notes.md)
python -m benchmarks.run --full     # whole libraries, transformers and torch (about an hour)
python -m benchmarks.run --smoke    # tiny and network-free: examples/ and part of torch
python -m benchmarks.run --render FIGURES.json  # only render saved figures (after editing notes)

The pinned libraries are installed with ``pip install --no-deps --target <work>/site`` on the
first run (PyPI); ``--work`` keeps them (default ``.bench``, ignored by git).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import against, batch, corpus, editor, phases, report
from benchmarks.common import REPO, machine, versions
from benchmarks.rerun import load_average

WHAT = {
    "examples": "the project's examples/",
    "torch": "Python sources of the installed torch",
    "libraries": "timm, pytorch-lightning (+ lightning_fabric), torchmetrics, accelerate",
    "transformers": "transformers",
    "torchfix-subset": "every k-th file of the main set, for TorchFix",
    "libraries-sample": "every k-th file of the libraries (the main set of this run)",
}


def budgets(data: dict[str, Any], main_set: str) -> list[dict[str, Any]]:
    out = []

    def add(name: str, target: str, value: float, limit: float, text: str, higher: bool = False):
        met = value >= limit if higher else value <= limit
        out.append({"name": name, "target": target, "measured": text, "met": met})

    tf = data.get("torchfix")
    if tf:
        base = tf["rows"]["torchfix --jobs 2"]["wall"]
        for key in tf["rows"]:
            if not key.startswith("gradguard check") or "--jobs 2" not in key:
                continue
            ratio = base / tf["rows"][key]["wall"]
            add(f"`{key}` vs TorchFix, lines/s, same files", ">= 100x", ratio, 100,
                f"{ratio:.0f}x", higher=True)  # fmt: skip
    rows = data.get("throughput", {}).get(main_set, {}).get("rows", {})
    for jobs, floor in ((1, "ast.parse, 1 process"), (2, "ast.parse, 2 processes")):
        key = f"gradguard check --no-resolve --jobs {jobs}"
        if key not in rows or floor not in rows:
            continue
        ratio = rows[key]["wall"] / rows[floor]["wall"]
        cpu = rows[key]["cpu"] / rows[floor]["cpu"]
        add(f"`{key}` vs `{floor}` ({main_set}), CPU time", "<= 1.5x", cpu, 1.5,
            f"{cpu:.1f}x (wall {ratio:.1f}x)")  # fmt: skip
    if "editor" not in data:
        return out
    sessions = data["editor"]["sessions"]
    for name, limit in (("2k", 50.0), ("10k", 300.0)):
        if name in sessions:
            p95 = sessions[name]["change"]["p95"]
            add(f"didChange → diagnostics p95, {sessions[name]['lines']:,} lines",
                f"<= {limit:.0f} ms", p95, limit, f"{p95:.0f} ms")  # fmt: skip
    compared = sum(s.get("compared_with_full", 0) for s in sessions.values())
    if compared:
        agreed = sum(s.get("same_as_full", 0) for s in sessions.values())
        add("diagnostics after an edit = a full analysis of that text", "all", agreed,
            compared, f"{agreed} of {compared} checked", higher=True)  # fmt: skip
    worst = max(s["code_action"]["p95"] for s in sessions.values())
    add("code action p95 (worst script)", "<= 10 ms", worst, 10.0, f"{worst:.1f} ms")
    worst = max(s["hover_warm"]["p95"] for s in sessions.values())
    add("hover p95, warm (worst script)", "<= 100 ms", worst, 100.0, f"{worst:.1f} ms")
    start = data["editor"]["startup"]
    add("server start → initialize answered (p95)", "<= 0.5 s", start["p95"], 500.0,
        f"{start['p95']:.0f} ms (median {start['p50']:.0f} ms)")  # fmt: skip
    out += _realistic_budgets(data.get("realistic"))
    mem = data["editor"]["memory"]
    add(f"RSS after opening {mem['files']} files (server + jedi helper)", "<= 200 MB",
        mem["rss_after_open_mib"], 200.0 / 1.048576,
        f"{mem['rss_after_open_mib']:.0f} MiB; {mem['rss_max_while_settling_mib']:.0f} MiB "
        "at most while jedi settled")  # fmt: skip
    return out


def _realistic_budgets(realistic: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The issue-16 budgets on the realistic scripts (this tree's figures)."""
    out: list[dict[str, Any]] = []
    for lines, servers in (realistic or {}).get("rows", {}).items():
        tree = servers["this checkout"]
        limit = 50.0 if int(lines) < 5000 else 300.0
        for kind, target in (
            ("didChange to diagnostics", limit),
            ("code action", 10.0),
            ("hover (warm)", 100.0),
        ):
            p95 = tree[kind]["p95"]
            out.append({
                "name": f"realistic script, {int(lines):,} lines: {kind} p95",
                "target": f"<= {target:.0f} ms",
                "measured": f"{p95:.0f} ms" if p95 >= 10 else f"{p95:.1f} ms",
                "met": p95 <= target,
            })  # fmt: skip
    return out


def _label(lines: int) -> str:
    return f"{lines // 1000}k" if lines >= 1000 else str(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny, fast, no network")
    parser.add_argument("--work", type=Path, default=REPO / ".bench", help="corpus and venvs")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument("--full", action="store_true", help="whole libraries, transformers, torch")
    parser.add_argument(
        "--base", help="git ref whose server the start-up and realistic rows compare"
    )
    parser.add_argument("--repeat", type=int, help="runs per batch figure (default 3; smoke 1)")
    parser.add_argument("--edits", type=int, help="edits per editor script (default 30)")
    parser.add_argument("--torchfix-lines", type=int, help="default 20,000 (full: 40,000)")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument(
        "--main-lines", type=int, help="a spread of this many lines of the libraries (40,000; "
        "0 or --full: all of them)"
    )  # fmt: skip
    parser.add_argument("--editor-sizes", default="200,2000,10000", help="script sizes (lines)")
    parser.add_argument("--large-edits", type=int, help="edits for scripts of 2,000+ lines (20)")
    parser.add_argument("--realistic-edits", type=int, default=10, help="per realistic script")
    parser.add_argument("--skip-transformers", action="store_true", help="(the default)")
    parser.add_argument("--scale-sizes", default="200,1000,2000,5000,10000,20000")
    parser.add_argument("--render", type=Path, help="only render this raw-figures JSON file")
    args = parser.parse_args(argv)
    smoke = args.smoke
    if args.render:
        saved = json.loads(args.render.read_text())
        saved["budgets"] = budgets(saved, saved["main_set"])
        args.output.write_text(report.render(saved))
        return 0
    repeat = args.repeat or (1 if smoke else 3)
    edits = args.edits or (2 if smoke else 50 if args.full else 30)
    large_edits = args.large_edits or (edits if args.full else 20)
    main_lines = args.main_lines if args.main_lines is not None else (0 if args.full else 40_000)
    torchfix_lines = args.torchfix_lines or (40_000 if args.full else 20_000)
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    def step(message: str) -> None:
        at = time.perf_counter() - started
        data["steps"].append({"step": message, "at_s": at, "load": load_average()})
        if args.json:
            args.json.write_text(json.dumps(data, indent=1, default=str))
        print(f"[{at:7.1f}s] {message}", file=sys.stderr, flush=True)

    data: dict[str, Any] = {
        "command": "python -m benchmarks.run"
        + (" " if argv or sys.argv[1:] else "")
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(),
        "repeat": repeat,
        "steps": [],
    }
    step("building the corpus")
    with_transformers = args.full and not args.skip_transformers
    sets = corpus.build_corpus(work, smoke=smoke, transformers=with_transformers)
    main_set = "torch" if smoke else "libraries"
    if main_lines and not smoke:
        sample = corpus.subset(work, "libraries-sample", sets["libraries"], main_lines)
        sets[main_set := "libraries-sample"] = sample
    data["main_set"] = main_set
    torchfix_exe = None if smoke else corpus.install_torchfix(work)
    data["versions"] = versions(
        str(torchfix_exe.parent / "python") if torchfix_exe is not None else None
    )
    data["corpus"] = {
        name: {"what": WHAT[name], "files": s.count, "lines": s.lines} for name, s in sets.items()
    }
    data["throughput"] = {}
    plan: list[tuple[str, int, int, tuple[int, ...]]] = [
        (main_set, repeat, 0 if smoke else 1, (1, 2))
    ]
    if not smoke:
        plan.append(("examples", repeat, 1, (1, 2)))
    if args.full:  # torch is also the whole-package run below; transformers is large
        plan.append(("torch", 1, 0, (2,)))
    if with_transformers:
        plan.append(("transformers", 1, 0, (2,)))
    for name, runs, resolve_runs, jobs in plan:
        step(f"throughput: {name}")
        data["throughput"][name] = batch.throughput(
            sets[name], work, repeat=runs, resolve_repeat=resolve_runs, jobs=jobs
        )
    if torchfix_exe is not None:
        step("TorchFix subset")
        sub = corpus.subset(work, "torchfix-subset", sets[main_set], torchfix_lines)
        data["corpus"]["torchfix-subset"] = {
            "what": WHAT["torchfix-subset"], "files": sub.count, "lines": sub.lines
        }  # fmt: skip
        data["torchfix"] = batch.torchfix_comparison(sub, torchfix_exe, work, repeat=repeat)
    step("editor latency")
    sizes = (
        {"200": 200} if smoke else {_label(int(n)): int(n) for n in args.editor_sizes.split(",")}
    )
    memory_files = list(sets[main_set].files[: 3 if smoke else 100])
    data["editor"] = editor.run_editor(
        work,
        sizes,
        edits,
        large_edits,
        memory_files,
        settle_s=0 if smoke else 20 if args.full else 10,
        startup_runs=0 if smoke else 5,
    )
    if not smoke:
        step(f"server start and realistic scripts against {args.base or 'nothing'}")
        data["startup"] = against.startup(args.base, 5 if args.full else 8)
        data["realistic"] = against.realistic(args.base, [2000, 10000], args.realistic_edits)
    step("scaling")
    size_points = [200, 400] if smoke else [int(n) for n in args.scale_sizes.split(",")]
    data["scaling_size"] = batch.scaling_by_size(size_points, 1 if smoke else 3)
    count_points = [3, 6] if smoke else [10, 30, 100, 300] + ([900] if args.full else [])
    data["scaling_count"] = batch.scaling_by_count(sets[main_set], work, count_points, repeat)
    step("phase profile")
    data["phases"] = phases.phase_profile(sets[main_set].files) | {"set": main_set}
    step("whole torch package")
    data["whole_package"] = batch.whole_package(sets["torch"].root, work) | {
        "set": "the torch.optim slice (smoke)" if smoke else f"{sets['torch'].count} files"
    }
    data["budgets"] = budgets(data, main_set)
    step("done")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report.render(data))
    if args.json:
        args.json.write_text(json.dumps(data, indent=1, default=str))
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
