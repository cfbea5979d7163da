"""Where ``analyze`` spends its time: CPU seconds per phase (parse, facts, each rule,
noqa comments) over a file set, in this process."""

from __future__ import annotations

import ast
import collections
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def phase_profile(paths: Iterable[Path]) -> dict[str, Any]:
    from gradguard.analysis.facts import ModuleFacts
    from gradguard.config import Config
    from gradguard.engine import applicable_rules, parse
    from gradguard.noqa import parse_suppressions
    from gradguard.rules import all_rules
    from gradguard.rules.base import RuleContext
    from gradguard.source import SourceFile

    seconds: collections.defaultdict[str, float] = collections.defaultdict(float)
    errors: collections.Counter[str] = collections.Counter()
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old_limit, 20_000))
    files = lines = 0
    config = Config()  # the defaults, as `gradguard check` without a pyproject
    started = 0.0
    try:
        for path in paths:
            text = path.read_text(encoding="utf-8", errors="replace")
            files += 1
            lines += text.count("\n")
            source = SourceFile(text, str(path))
            started = time.process_time()
            tree = parse(source)
            seconds["parse (ast.parse)"] += time.process_time() - started
            if not isinstance(tree, ast.Module):
                continue
            started = time.process_time()
            rules = applicable_rules(source, config, all_rules())  # as the engine
            seconds["rule text gates (Rule.may_apply)"] += time.process_time() - started
            if not rules:
                continue
            started = time.process_time()
            try:
                context = RuleContext(ModuleFacts(source, tree, None))
            except RecursionError:
                continue
            seconds["facts (ModuleFacts)"] += time.process_time() - started
            found = 0
            for rule in rules:
                started = time.process_time()
                try:
                    found += len(list(rule.check(context)))
                except Exception:
                    errors[rule.code] += 1
                seconds[rule.code] += time.process_time() - started
            started = time.process_time()
            context.facts.release()  # as the engine: else each file's facts wait for a full GC
            del context, tree
            seconds["freeing the tree and facts"] += time.process_time() - started
            started = time.process_time()
            if found and "noqa" in text.lower():  # what the engine does
                parse_suppressions(text)
            seconds["noqa comments (only with findings and a noqa)"] += (
                time.process_time() - started
            )
    finally:
        sys.setrecursionlimit(old_limit)
    total = sum(seconds.values())
    return {
        "files": files,
        "lines": lines,
        "total": total,
        "phases": [
            (name, value, value / total if total else 0.0)
            for name, value in sorted(seconds.items(), key=lambda item: -item[1])
        ],
        "errors": dict(errors),
    }
