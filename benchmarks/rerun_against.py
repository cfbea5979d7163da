"""Reruns of the default ``gradguard check`` (jedi on) of two versions of GradGuard, in
one run, against a bare ``ast.parse`` pass over the same files.

``python -m benchmarks.rerun_against [--base main] [--jobs 2] [--rounds 5] DIR`` extracts
the ``server/`` of the git revision ``--base`` (:func:`benchmarks.demand.extract_server`)
and measures it and this working tree on a copy of DIR (e.g. ``/work/corpus/pkgs/timm``),
each with a first-time user's empty HOME and its own cache directory:

1. ``check`` cold, once per version (it fills the cache);
2. ``--rounds`` rounds of: the ``ast.parse`` pass, then each version's rerun over the
   unchanged files;
3. one file edited (a line appended to the middle file), then ``--rounds`` rounds of:
   the ``ast.parse`` pass, then each version's rerun from the cache its cold run left;
4. ``check --no-cache`` of this tree over the edited files.

Rows are medians over the rounds, so both versions and the floor see the same load;
the ratios divide by the median of the ``ast.parse`` passes measured beside them. The
reports (JSON, without the links, which name each version's directory) must be equal:
each rerun to its version's cold run, each rerun after the edit to the ``--no-cache``
run, and the two versions to each other.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.ast_floor import python_files
from benchmarks.common import REPO, Measurement, run_measured
from benchmarks.demand import Version, extract_server, findings_of
from benchmarks.rerun import edit_one_file, first_time_environment, load_average, report


class Cached(Version):
    """A version whose cache is kept between runs (and can be put back)."""

    def cache(self) -> Path:
        return self.work / f"cache-{self.name}"

    def run(self, *flags: str, fresh: bool = False) -> tuple[Measurement, str]:
        home = self.work / f"home-{self.name}"
        if fresh:
            shutil.rmtree(self.cache(), ignore_errors=True)
            shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True, exist_ok=True)
        env = first_time_environment(self.cache(), home)
        env["PYTHONPATH"] = os.pathsep.join([str(self.server), str(REPO)])
        report = self.work / f"report-{self.name}.json"
        report.unlink(missing_ok=True)
        command = [sys.executable, "-m", "gradguard", "check", "--jobs", str(self.jobs)]
        command += [*flags, "--format", "json", "--output-file", str(report), "."]
        return run_measured(command, cwd=self.tree, env=env), findings_of(report)

    def keep(self) -> None:
        shutil.rmtree(self.work / f"kept-{self.name}", ignore_errors=True)
        shutil.copytree(self.cache(), self.work / f"kept-{self.name}")

    def put_back(self) -> None:
        shutil.rmtree(self.cache(), ignore_errors=True)
        shutil.copytree(self.work / f"kept-{self.name}", self.cache())


def run(source: Path, base: str, jobs: int, rounds: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="gradguard-rerun-against-"))
    tree = work / "tree"
    shutil.copytree(source, tree)
    versions = [
        Cached(base, extract_server(base, work / "base"), work, tree, jobs),
        # A copy: the working tree may change while the benchmark runs.
        Cached("this tree", _copy_server(work / "this"), work, tree, jobs),
    ]
    floor_command = [sys.executable, "-m", "benchmarks.ast_floor", "--jobs", str(jobs), "."]
    floor_env = first_time_environment(work / "cache-floor", work)
    floor_env["PYTHONPATH"] = str(REPO)
    rows: list[dict[str, Any]] = []
    reports: dict[str, str] = {}
    for version in versions:
        load = load_average()
        measured, reports[f"cold {version.name}"] = version.run(fresh=True)
        rows.append(_row(f"check, cold ({version.name})", [measured], load))
        version.keep()
    floors: list[Measurement] = []
    for stage in ("rerun unchanged", "rerun after one edit"):
        if stage == "rerun after one edit":
            edited = edit_one_file(tree)
        runs: dict[str, list[Measurement]] = {v.name: [] for v in versions}
        load = load_average()
        for _ in range(rounds):
            floors.append(run_measured(floor_command, cwd=tree, env=floor_env))
            for version in versions:
                version.put_back()
                measured, reports[f"{stage} {version.name}"] = version.run()
                runs[version.name].append(measured)
        rows += [_row(f"check, {stage} ({name})", runs[name], load) for name in runs]
    load = load_average()
    measured, reports["no-cache"] = versions[1].run("--no-cache", fresh=True)
    rows.append(_row("check --no-cache, edited tree (this tree)", [measured], load))
    rows.insert(0, _row(f"ast.parse pass (median of {len(floors)})", floors, load_average()))
    shutil.rmtree(work, ignore_errors=True)
    return {
        "files": len(python_files([str(source)])),
        "edited": str(edited.relative_to(tree)),
        "rows": rows,
        "identical": _identical(reports, [v.name for v in versions]),
    }


def _copy_server(into: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(REPO / "server", into / "server", ignore=ignore)
    return into / "server"


def _row(label: str, runs: list[Measurement], load: str) -> dict[str, Any]:
    return {
        "label": label,
        "wall": statistics.median(r.wall for r in runs),
        "cpu": statistics.median(r.cpu for r in runs),
        "load": load,
        "runs": len(runs),
    }


def _identical(reports: dict[str, str], names: list[str]) -> dict[str, bool]:
    out = {}
    for name in names:
        out[f"{name}: rerun unchanged = cold"] = (
            reports[f"rerun unchanged {name}"] == reports[f"cold {name}"]
        )
        out[f"{name}: rerun after edit = --no-cache"] = (
            reports[f"rerun after one edit {name}"] == reports["no-cache"]
        )
    out["cold: both versions"] = reports[f"cold {names[0]}"] == reports[f"cold {names[1]}"]
    return out


def table(result: dict[str, Any]) -> str:
    floor = result["rows"][0]
    lines = [
        f"{result['files']} files; edited: `{result['edited']}`",
        "",
        "| run | wall s | CPU s | wall / ast.parse | CPU / ast.parse | load |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['label']} | {row['wall']:.3f} | {row['cpu']:.3f} "
            f"| {row['wall'] / floor['wall']:.2f}x | {row['cpu'] / floor['cpu']:.2f}x "
            f"| {row['load']} |"
        )
    lines.append("")
    for name, same in result["identical"].items():
        lines.append(f"- {name}: {'yes' if same else '**NO**'}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.rerun_against", description=__doc__)
    parser.add_argument("source", type=Path)
    parser.add_argument("--base", default="main", help="git revision to compare with")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    return report(run(args.source.resolve(), args.base, args.jobs, args.rounds), table, args.json)


if __name__ == "__main__":
    sys.exit(main())
