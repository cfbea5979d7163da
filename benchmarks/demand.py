"""Demand-driven resolution (issue 16, item 1): the default ``gradguard check`` of two
versions of GradGuard side by side, in one run, on the same files, as a first-time user.

``python -m benchmarks.demand [--base main] [--jobs 2] [--repeat 1] DIR`` extracts the
``server/`` of the git revision ``--base`` of this repository to a temporary directory
and measures it and this working tree on a copy of DIR (e.g. ``/work/corpus/pkgs/timm``):

* the bare ``ast.parse`` pass over the same files (:mod:`benchmarks.ast_floor`);
* ``gradguard check`` (jedi on) with an empty HOME and an empty ``GRADGUARD_CACHE_DIR``;
* ``gradguard check --no-resolve``, likewise: the analysis alone, so the difference
  between the two rows is what asking jedi costs;
* the questions asked of jedi per file (:mod:`benchmarks.questions`, in one process);

and prints the table (wall and CPU seconds, ratios to the ``ast.parse`` pass, load
average per row), the questions before and after, the files whose count changed most,
and whether both versions report the same findings (JSON reports, docs links aside).
With ``--repeat N`` the rows are measured N times, interleaved, and the medians shown.
``--no-resolve-only`` measures the ``ast.parse`` pass and the two ``--no-resolve`` rows
alone (no jedi, no questions): the analysis budget in a fraction of the time.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.ast_floor import python_files
from benchmarks.common import REPO, Measurement, median_measurement, run_measured
from benchmarks.rerun import first_time_environment, load_average, ratio_rows


def extract_server(revision: str, into: Path) -> Path:
    """``server/`` of ``revision`` (a git revision of this repository) under ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", revision, "server"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "server"


class Version:
    """One GradGuard (its ``server/`` directory) measured on the copied tree."""

    def __init__(self, name: str, server: Path, work: Path, tree: Path, jobs: int) -> None:
        self.name, self.server, self.work, self.tree, self.jobs = name, server, work, tree, jobs
        compileall.compile_dir(server / "gradguard", quiet=1)  # as installing it does

    def environment(self, label: str) -> dict[str, str]:
        cache, home = self.work / f"cache-{label}", self.work / f"home-{label}"
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        env = first_time_environment(cache, home)
        env["PYTHONPATH"] = os.pathsep.join([str(self.server), str(REPO)])
        return env

    def check(self, *flags: str) -> tuple[Measurement, str]:
        label = f"{self.name}{''.join(flags)}"
        report = self.work / f"report-{label}.json"
        command = [sys.executable, "-m", "gradguard", "check", "--jobs", str(self.jobs)]
        command += [*flags, "--format", "json", "--output-file", str(report), "."]
        measured = run_measured(command, cwd=self.tree, env=self.environment(label))
        return measured, findings_of(report)

    def questions(self) -> dict[str, Any]:
        out = self.work / f"questions-{self.name}.json"
        command = [sys.executable, "-m", "benchmarks.questions", "--json", str(out), "."]
        env = self.environment(f"{self.name}-questions")
        subprocess.run(command, cwd=self.tree, env=env, check=True, capture_output=True)
        return dict(json.loads(out.read_text(encoding="utf-8")))


def findings_of(report: Path) -> str:
    """The report's findings and errors, without the docs links (they name the
    directory each version's docs are in)."""
    if not report.exists():
        return "no report"
    data = json.loads(report.read_text(encoding="utf-8"))
    for finding in data.get("findings", []):
        finding.pop("url", None)
    return json.dumps(data, sort_keys=True)


def run(
    source: Path, base: str, jobs: int, repeat: int, *, with_jedi: bool = True
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="gradguard-demand-"))
    tree = work / "tree"
    shutil.copytree(source, tree)
    versions = [
        Version(base, extract_server(base, work / "base"), work, tree, jobs),
        Version("this tree", REPO / "server", work, tree, jobs),
    ]
    floor_command = [sys.executable, "-m", "benchmarks.ast_floor", "--jobs", str(jobs), "."]
    runs: dict[str, list[Measurement]] = {}
    loads: dict[str, str] = {}
    reports: dict[str, str] = {}

    def measure(label: str, take: Any) -> None:
        loads.setdefault(label, load_average())
        measured = take()
        if isinstance(measured, tuple):
            measured, reports[label] = measured
        runs.setdefault(label, []).append(measured)

    for _ in range(repeat):  # interleaved, so both versions see the same load
        floor = partial(run_measured, floor_command, cwd=tree, env=versions[1].environment("ast"))
        measure("ast.parse pass", floor)
        for version in versions:
            if with_jedi:
                measure(f"check ({version.name})", version.check)
            measure(f"check --no-resolve ({version.name})", partial(version.check, "--no-resolve"))
    questions = {version.name: version.questions() for version in versions} if with_jedi else {}
    shutil.rmtree(work, ignore_errors=True)
    rows = [
        {"label": label, "load": loads[label], **_figures(median_measurement(found))}
        for label, found in runs.items()
    ]
    return {
        "files": len(python_files([str(source)])),
        "rows": rows,
        "questions": questions,
        "identical": {
            mode: reports[f"{mode} ({base})"] == reports[f"{mode} (this tree)"]
            for mode in (["check"] if with_jedi else []) + ["check --no-resolve"]
        },
        "names": [version.name for version in versions],
    }


def _figures(measured: Measurement) -> dict[str, float]:
    return {"wall": measured.wall, "cpu": measured.cpu}


def table(result: dict[str, Any]) -> str:
    lines = [f"{result['files']} files", "", *ratio_rows(result["rows"])]
    if result["questions"]:
        lines += _questions(result)
    lines += [
        "",
        *(
            f"- same findings, {name}: {'yes' if same else '**NO**'}"
            for name, same in result["identical"].items()
        ),
    ]
    return "\n".join(lines) + "\n"


def _questions(result: dict[str, Any]) -> list[str]:
    before, after = (result["questions"][name] for name in result["names"])
    lines = [
        "",
        "| questions asked of jedi | " + " | ".join(result["names"]) + " |",
        "| --- | ---: | ---: |",
    ]
    for key in ("questions", "files asking", "jedi queries run", "findings"):
        lines.append(f"| {key} | {before[key]} | {after[key]} |")
    return [*lines, "", *_per_file(before["per file"], after["per file"], result["names"])]


def _per_file(before: dict[str, int], after: dict[str, int], names: list[str]) -> list[str]:
    """The ten files that asked most before, with their counts after."""
    most = sorted(before, key=lambda path: (-before[path], path))[:10]
    lines = [f"| file (most questions first) | {names[0]} | {names[1]} |", "| --- | ---: | ---: |"]
    lines += [f"| `{path}` | {before[path]} | {after.get(path, 0)} |" for path in most]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.demand", description=__doc__)
    parser.add_argument("source", type=Path)
    parser.add_argument("--base", default="main", help="git revision to compare with")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--no-resolve-only", action="store_true", help="no jedi rows")
    args = parser.parse_args(argv)
    result = run(
        args.source.resolve(),
        args.base,
        args.jobs,
        args.repeat,
        with_jedi=not args.no_resolve_only,
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    sys.stdout.write(table(result))
    return 0 if all(result["identical"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
