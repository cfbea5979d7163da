"""The ``gradguard`` command line: ``check``, ``rule``, ``server`` and ``clean``.

Exit status of ``check`` (decided in :func:`gradguard.cli.check.exit_status`): 0 when
nothing of severity error or warning was found (information and hints do not fail a
run) or with ``--exit-zero``; 1 for such findings, a file that could not be analysed,
a non-empty ``--diff``, or a fixed file with ``--exit-non-zero-on-fix``; 2 for usage
and configuration errors (an invalid key still lets the run complete with its
default, so the findings are printed too).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from gradguard.cli.arguments import build_parser, parse
from gradguard.cli.cached import run_clean
from gradguard.cli.check import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, exit_status, run_check
from gradguard.cli.rule import run_rule, run_server

__all__ = ["EXIT_CLEAN", "EXIT_ERROR", "EXIT_FINDINGS", "build_parser", "exit_status", "main"]

_HANDLERS = {"check": run_check, "rule": run_rule, "server": run_server, "clean": run_clean}


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="gradguard: %(levelname)s: %(message)s"
    )
    args = parse(build_parser(), list(argv) if argv is not None else None)
    try:
        return int(_HANDLERS[args.command](args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_CLEAN
