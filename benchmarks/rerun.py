"""The default ``gradguard check`` (jedi on) cold, rerun unchanged and rerun after one
edit, against a bare ``ast.parse`` pass over the same files, in one run.

``python -m benchmarks.rerun [--jobs N] [--repeat N] DIR`` copies DIR (a library's
sources, e.g. ``/work/corpus/pkgs/timm``) to a temporary directory and measures, each
with a first-time user's empty HOME and an empty cache directory unless stated:

* the ``ast.parse`` floor (:mod:`benchmarks.ast_floor`);
* ``check`` cold (nothing cached), ``check`` again over the unchanged files (the
  result cache of the cold run), and ``check`` after one file of the tree was edited
  (a line appended to the middle file, cache of the run before);
* the same three with ``--no-resolve``;
* ``check --no-cache`` (nothing read or written), whose report every cached run must
  equal: the table says whether it did.

Each row has the load average when it started (``/proc/loadavg``): on a shared
machine wall times vary with it; CPU seconds and the ratios of one run less so.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.ast_floor import python_files
from benchmarks.common import REPO, median_measurement, run_measured


def load_average() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def first_time_environment(cache: Path, home: Path) -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE (set on the benchmark machine) makes every run compile
    # GradGuard's modules again, about 0.4 s; an installed GradGuard has its bytecode.
    dropped = ("XDG_CACHE_HOME", "GRADGUARD_LOG_LEVEL", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(HOME=str(home), GRADGUARD_CACHE_DIR=str(cache))
    return env


class Bench:
    def __init__(self, root: Path, work: Path, jobs: int, repeat: int) -> None:
        self.root, self.work, self.jobs, self.repeat = root, work, jobs, repeat
        self.rows: list[dict[str, Any]] = []
        self.reports: dict[str, str] = {}

    def fresh(self, name: str) -> tuple[Path, Path]:
        cache, home = self.work / f"cache-{name}", self.work / f"home-{name}"
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        return cache, home

    def measure(
        self, label: str, command: list[str], cache: Path, home: Path, *, reset: bool = False
    ) -> None:
        """Median of ``repeat`` runs; with ``reset`` each starts from an empty cache."""
        report = self.work / f"report-{len(self.rows)}.json"
        runs = []
        load = load_average()
        for _ in range(self.repeat):
            if reset:
                shutil.rmtree(cache, ignore_errors=True)
                shutil.rmtree(home, ignore_errors=True)
                home.mkdir(parents=True)
            is_check = "gradguard" in command
            full = (
                [*command, "--format", "json", "--output-file", str(report)]
                if is_check
                else command
            )
            runs.append(run_measured(full, cwd=self.root, env=first_time_environment(cache, home)))
        best = median_measurement(runs)
        self.rows.append({"label": label, "wall": best.wall, "cpu": best.cpu, "load": load})
        if report.exists():
            self.reports[label] = _findings(report)

    def check(self, *flags: str) -> list[str]:
        return [sys.executable, "-m", "gradguard", "check", "--jobs", str(self.jobs), *flags, "."]


def _findings(report: Path) -> str:
    """The report without what differs between equal runs (none expected, but stable)."""
    return json.dumps(json.loads(report.read_text(encoding="utf-8")), sort_keys=True)


def edit_one_file(root: Path) -> Path:
    files = sorted(Path(p) for p in python_files([str(root)]))
    edited = files[len(files) // 2]
    with edited.open("a", encoding="utf-8") as handle:
        handle.write("\n# edited by benchmarks.rerun\n")
    return edited


def compile_gradguard() -> None:
    """Write GradGuard's bytecode, as installing it does (see :func:`_environment`)."""
    import compileall

    compileall.compile_dir(REPO / "server" / "gradguard", quiet=1)


def run(source: Path, jobs: int, repeat: int) -> dict[str, Any]:
    compile_gradguard()
    work = Path(tempfile.mkdtemp(prefix="gradguard-rerun-"))
    root = work / "tree"
    shutil.copytree(source, root)
    bench = Bench(root, work, jobs, repeat)
    floor = [sys.executable, "-m", "benchmarks.ast_floor", "--jobs", str(jobs), "."]
    cache, home = bench.fresh("floor")
    bench.measure("ast.parse pass", floor, cache, home)
    for flags, name in (((), "check"), (("--no-resolve",), "check --no-resolve")):
        cache, home = bench.fresh(name.replace(" ", ""))
        bench.measure(f"{name}, cold", bench.check(*flags), cache, home, reset=True)
        bench.measure(f"{name}, rerun unchanged", bench.check(*flags), cache, home)
    edited = edit_one_file(root)
    for flags, name in (((), "check"), (("--no-resolve",), "check --no-resolve")):
        kept = name.replace(" ", "")
        cache, home = bench.work / f"cache-{kept}", bench.work / f"home-{kept}"
        bench.measure(f"{name}, rerun after one edit", bench.check(*flags), cache, home)
        cache, home = bench.fresh(f"nocache{name.replace(' ', '')}")
        bench.measure(
            f"{name} --no-cache (edited tree)", bench.check(*flags, "--no-cache"), cache, home
        )
    shutil.rmtree(work, ignore_errors=True)
    return {
        "files": len(python_files([str(source)])),
        "edited": str(edited.relative_to(root)),
        "rows": bench.rows,
        "identical": _identical(bench),
    }


def _identical(bench: Bench) -> dict[str, bool]:
    """Whether each cached run's report equals the uncached run over the same files."""
    out = {}
    for name in ("check", "check --no-resolve"):
        before = bench.reports.get(f"{name}, cold")
        out[f"{name}: rerun unchanged = cold"] = (
            bench.reports.get(f"{name}, rerun unchanged") == before
        )
        out[f"{name}: rerun after edit = --no-cache"] = bench.reports.get(
            f"{name}, rerun after one edit"
        ) == bench.reports.get(f"{name} --no-cache (edited tree)")
    return out


def ratio_rows(rows: list[dict[str, Any]]) -> list[str]:
    """A Markdown table of the runs, each against the first (the ``ast.parse`` pass)."""
    floor = rows[0]
    lines = [
        "| run | wall s | CPU s | wall / ast.parse | CPU / ast.parse | load |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['label']} | {row['wall']:.2f} | {row['cpu']:.2f} "
            f"| {row['wall'] / floor['wall']:.2f}x | {row['cpu'] / floor['cpu']:.2f}x "
            f"| {row['load']} |"
        )
    return lines


def table(result: dict[str, Any]) -> str:
    lines = [f"{result['files']} files; edited: `{result['edited']}`", ""]
    lines += ratio_rows(result["rows"])
    lines.append("")
    lines += [
        f"- {name}: {'yes' if same else '**NO**'}" for name, same in result["identical"].items()
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.rerun", description=__doc__)
    parser.add_argument("source", type=Path)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    return report(run(args.source.resolve(), args.jobs, args.repeat), table, args.json)


def report(result: dict[str, Any], render: Callable[[dict[str, Any]], str], to: Path | None) -> int:
    """Print ``render(result)`` (and write it as JSON ``to``); 0 when every report was
    identical where it had to be."""
    if to:
        to.write_text(json.dumps(result, indent=2), encoding="utf-8")
    sys.stdout.write(render(result))
    return 0 if all(result["identical"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
