"""The floor for any CPython analyser: read every ``.py`` file and ``ast.parse`` it.

``python -m benchmarks.ast_floor [--jobs N] DIR...`` walks the directories like the
other tools (the trees hold ``.py`` files only) and does nothing else.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor


def parse_file(path: str) -> int:
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(data, filename=path)
    except (SyntaxError, ValueError, RecursionError):
        return 0
    return 1


def python_files(roots: list[str]) -> list[str]:
    found = []
    for root in roots:
        for directory, dirnames, filenames in os.walk(root):
            dirnames.sort()
            found += [os.path.join(directory, f) for f in sorted(filenames) if f.endswith(".py")]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ast_floor")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args(argv)
    sys.setrecursionlimit(20_000)
    paths = python_files(args.paths)
    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            chunk = max(1, len(paths) // (args.jobs * 8))
            parsed = sum(pool.map(parse_file, paths, chunksize=chunk))
    else:
        parsed = sum(parse_file(path) for path in paths)
    print(f"parsed {parsed} of {len(paths)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
