"""Run the robustness suite with a budget and print the counts for docs/reliability.md.

    python -m tests.robustness.report               # budget 20 (about 10 minutes on 2 cores)
    python -m tests.robustness.report --budget full # every torch file too

CI runs the same tests with the default budget of 1 (GRADGUARD_FUZZ_BUDGET unset).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.robustness.report")
    parser.add_argument("--budget", default="20", help="GRADGUARD_FUZZ_BUDGET (an integer or full)")
    parser.add_argument("--jobs", default="2", help="pytest-xdist workers")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        counts_file = os.path.join(scratch, "counts.jsonl")
        env = {
            **os.environ,
            "GRADGUARD_FUZZ_BUDGET": args.budget,
            "GRADGUARD_ROBUSTNESS_COUNTS": counts_file,
        }
        started = time.monotonic()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-rf",
                "--durations=10",
                "-p",
                "no:cacheprovider",
                "-n",
                args.jobs,
                str(HERE),
            ],
            env=env,
        )
        elapsed = time.monotonic() - started
        totals: Counter[str] = Counter()
        if os.path.exists(counts_file):
            with open(counts_file, encoding="utf-8") as handle:
                for line in handle:
                    totals.update(json.loads(line))
    print()
    print(f"budget {args.budget}: pytest exit status {proc.returncode}, {elapsed:.0f} s")
    print()
    print("| what | count |")
    print("| --- | ---: |")
    for name, value in sorted(totals.items()):
        print(f"| {name} | {value:,} |")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
