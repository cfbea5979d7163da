"""Golden output: every finding and every fix edit for a set of files, to show that a
speed change leaves the analysis exactly as it was.

``python -m benchmarks.golden OUT DIR_OR_FILE...`` writes one line per finding (path,
code, span, severity, message, related locations), one per fix (its edits), one per
parse error and notice, in a stable order, over two processes. Run it before and after
a change, then ``diff`` the two files: the speed work of 2026-11-26 was checked this way
on 6,210 files (the benchmark corpus under ``.bench/trees``, the editor scripts and the
examples).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def describe(path: str) -> list[str]:
    """The golden lines of one file."""
    from gradguard.engine import analyze

    warnings.simplefilter("ignore")  # SyntaxWarnings of the corpus are not findings
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    result = analyze(text, path)
    lines: list[str] = []
    for finding in result.findings:
        lines.append(
            f"{path}|{finding.code}|{finding.span}|{finding.severity}|{finding.message}"
            f"|{finding.related}"
        )
        lines += [f"  FIX {fix!r}" for fix in finding.fixes]
    if result.parse_error:
        lines.append(f"{path}|PARSE|{result.parse_error}")
    lines += [f"{path}|NOTICE|{notice}" for notice in result.notices]
    return lines


def python_files(targets: list[str]) -> list[str]:
    found: list[str] = []
    for target in targets:
        root = Path(target)
        found += [str(p) for p in sorted(root.rglob("*.py"))] if root.is_dir() else [target]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.golden", description=__doc__)
    parser.add_argument("output", type=Path)
    parser.add_argument("targets", nargs="+", help="directories (their .py files) or files")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    sys.setrecursionlimit(20_000)
    paths = python_files(args.targets)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        lines = [line for out in pool.map(describe, paths, chunksize=8) for line in out]
    args.output.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    findings = sum(1 for line in lines if not line.startswith("  "))
    print(f"{len(paths)} files, {findings} findings, parse errors and notices -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
