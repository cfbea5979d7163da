"""``gradguard rule`` (documentation) and ``gradguard server``."""

from __future__ import annotations

import argparse
import sys

from gradguard.rules import all_rules, get_rule

EXIT_CLEAN, EXIT_ERROR = 0, 2


def run_rule(args: argparse.Namespace) -> int:
    if args.all or not args.code:
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
    from gradguard.docs import render_rule_page

    sys.stdout.write(render_rule_page(found))
    return EXIT_CLEAN


def run_server(args: argparse.Namespace) -> int:
    from gradguard.lsp.server import run

    run(tcp=args.tcp)
    return EXIT_CLEAN
