"""What summarising other workspace modules costs and finds, on real repositories.

``python -m benchmarks.workspace REPO...`` analyses every ``.py`` file of each repository
twice in one process: with the file alone (what ``--no-resolve`` and ``benchmarks.golden``
do) and with other workspace modules summarised by path (``WorkspaceOnlyResolver``: no jedi,
so the difference is the summaries alone). It prints CPU seconds per repository, the
lookups and modules summarised, and every finding that differs.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

from gradguard.engine import analyze
from gradguard.workspace_modules import WorkspaceOnlyResolver


def _findings(text: str, path: str, resolver: object | None) -> tuple[set[str], float]:
    started = time.process_time()
    result = analyze(text, path, resolver=resolver)  # type: ignore[arg-type]
    elapsed = time.process_time() - started
    return {
        f"{path}:{f.span.start.line + 1}: {f.code} {f.message}" for f in result.findings
    }, elapsed


def measure(repository: Path) -> tuple[int, float, float, int, list[str]]:
    resolver = WorkspaceOnlyResolver(str(repository))
    alone = with_modules = 0.0
    changed: list[str] = []
    paths = sorted(repository.rglob("*.py"))
    for path in paths:
        text = path.read_text(encoding="utf-8", errors="replace")
        before, spent = _findings(text, str(path), None)
        alone += spent
        after, spent = _findings(text, str(path), resolver)
        with_modules += spent
        changed += [f"+ {line}" for line in sorted(after - before)]
        changed += [f"- {line}" for line in sorted(before - after)]
    return len(paths), alone, with_modules, resolver.workspace.summarised, changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.workspace", description=__doc__)
    parser.add_argument("repositories", nargs="+", type=Path)
    args = parser.parse_args(argv)
    sys.setrecursionlimit(20_000)
    warnings.simplefilter("ignore")
    print("| repository | files | CPU s, file alone | CPU s, with modules | ratio | summarised |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    differences: list[str] = []
    for repository in args.repositories:
        files, alone, with_modules, summarised, changed = measure(repository)
        ratio = with_modules / alone if alone else 0.0
        print(
            f"| {repository.name} | {files} | {alone:.2f} | {with_modules:.2f} | {ratio:.2f}x "
            f"| {summarised} |"
        )
        differences += changed
    print(f"\n{len(differences)} findings differ")
    for line in differences:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
