"""Test-only launcher: ``gradguard server`` with faults injected into rules.

Product code has no fault hook; this script monkeypatches rule modules before
the registry loads them, then starts the real server:

    python tests/robustness/launch_server.py --fail GG204 --slow GG301:3 --time-limit 1

``--fail CODE``: that rule raises on every file. ``--slow CODE:SECONDS``: that rule
sleeps for SECONDS on files containing ``SLOW_RULE_MARKER``. ``--time-limit``:
the server's per-document analysis time limit. ``--parse-error``: ``ast.parse`` raises
``SystemError`` (as CPython's AST-constructor race did) on text containing
``PARSE_ERROR_MARKER``.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
from dataclasses import replace

import gradguard.rules


def _rule_module(code: str):
    for info in pkgutil.iter_modules(gradguard.rules.__path__):
        if info.name.startswith(code.lower() + "_"):
            return importlib.import_module(f"gradguard.rules.{info.name}")
    raise SystemExit(f"no rule module for {code}")


def _failing(rule, context):
    raise RuntimeError(f"fault injected into {rule.code}")


def _slow(seconds: float, original):
    def check(rule, context):
        if "SLOW_RULE_MARKER" in context.source.text:
            time.sleep(seconds)
        return original(rule, context)

    return check


def _parse_error_on_marker() -> None:
    from gradguard import astlock

    real = astlock._unlocked_parse

    def parse(source, *args, **kwargs):
        if "PARSE_ERROR_MARKER" in str(source):
            raise SystemError("AST constructor recursion depth mismatch (before=84, after=233)")
        return real(source, *args, **kwargs)

    astlock._unlocked_parse = parse


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fail", action="append", default=[])
    parser.add_argument("--slow", action="append", default=[])
    parser.add_argument("--time-limit", type=float)
    parser.add_argument("--parse-error", action="store_true")
    args = parser.parse_args()
    if args.parse_error:
        _parse_error_on_marker()
    for code in args.fail:
        module = _rule_module(code)
        # No text gate: an injected fault runs on every file.
        module.RULE = replace(
            module.RULE, check_function=_failing, required_text="", required_words=()
        )
    for item in args.slow:
        code, _, seconds = item.partition(":")
        module = _rule_module(code)
        module.RULE = replace(
            module.RULE,
            check_function=_slow(float(seconds), module.RULE.check_function),
            required_text="",
            required_words=(),
        )
    if args.time_limit is not None:
        from gradguard.lsp import worker

        worker.ANALYSIS_TIME_LIMIT = args.time_limit
    from gradguard.cli import main as cli_main

    sys.exit(cli_main(["server"]))


if __name__ == "__main__":
    main()
