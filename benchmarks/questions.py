"""How many questions the analysis asks jedi, per file: the figure demand-driven
resolution (issue 16, item 1) is to bring down without changing a finding.

``python -m benchmarks.questions DIR`` analyses every ``.py`` file of DIR in one
process with one :class:`~gradguard.resolver.JediResolver` (the CLI's budget per name,
answers kept only in memory) and prints the questions asked (every ``classify``
call, answered from memory or not), the distinct names, the queries jedi really ran,
and the files by number of questions. ``--json PATH`` also writes the questions per
file (``benchmarks.demand`` compares two versions of GradGuard with it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

from benchmarks.ast_floor import python_files
from benchmarks.rerun import load_average


def count(root: Path) -> dict[str, object]:
    from gradguard.cli.analyse import JEDI_TIMEOUT_S
    from gradguard.engine import analyze
    from gradguard.resolver import JediResolver, tracing

    warnings.simplefilter("ignore")
    resolver = JediResolver(project_root=str(root), timeout=JEDI_TIMEOUT_S)
    per_file: Counter[str] = Counter()
    started = time.process_time()
    findings = 0
    for path in python_files([str(root)]):
        text = Path(path).read_text(encoding="utf-8", errors="replace")
        with tracing() as asked:
            findings += len(analyze(text, path, resolver=resolver).findings)
        per_file[path] = len(asked)
    resolver.close()
    asked_total = sum(per_file.values())
    return {
        "per file": {str(Path(p).relative_to(root)): n for p, n in per_file.items()},
        "files": len(per_file),
        "findings": findings,
        "questions": asked_total,
        "files asking": sum(1 for n in per_file.values() if n),
        "jedi queries run": resolver.jedi_queries,
        "most": per_file.most_common(5),
        "cpu s (this process)": round(time.process_time() - started, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.questions", description=__doc__)
    parser.add_argument("root", type=Path)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    sys.setrecursionlimit(20_000)
    load = load_average()
    result = count(args.root.resolve())
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"load average at start: {load}")
    for name, value in result.items():
        if name != "per file":
            print(f"{name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
