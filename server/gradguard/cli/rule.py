"""``gradguard rule`` (documentation) and ``gradguard server``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gradguard.config import config_for
from gradguard.rules import all_rules, get_rule

EXIT_CLEAN, EXIT_ERROR = 0, 2


def run_rule(args: argparse.Namespace) -> int:
    from gradguard.docs import render_rule_page, rule_info

    base = config_for(Path.cwd() / "__file__").docs_url  # docs-url of the project here
    if args.all or not args.code:
        if args.format == "json":
            print(json.dumps([rule_info(rule, base) for rule in all_rules()], indent=2))
            return EXIT_CLEAN
        for rule in all_rules():
            print(f"{rule.code}  {rule.name:<30} {rule.severity.value:<12} {rule.summary}")
        return EXIT_CLEAN
    found = get_rule(args.code)
    if found is None:
        print(
            f"gradguard: error: unknown rule {args.code!r} (see `gradguard rule --all`)",
            file=sys.stderr,
        )
        return EXIT_ERROR
    if args.format == "json":
        print(json.dumps(rule_info(found, base), indent=2))
    else:
        sys.stdout.write(render_rule_page(found))
    return EXIT_CLEAN
