"""The ``gradguard`` command line: ``check``, ``rule``, ``server`` and ``clean``.

Exit status of ``check`` (decided in :func:`gradguard.cli.check.exit_status`): 0 when
nothing of severity error or warning was found (information and hints do not fail a
run) or with ``--exit-zero``; 1 for such findings, a file that could not be analysed,
a non-empty ``--diff``, or a fixed file with ``--exit-non-zero-on-fix``; 2 for usage
and configuration errors (an invalid key still lets the run complete with its
default, so the findings are printed too).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any

from gradguard.cli.arguments import build_parser, parse

__all__ = ["EXIT_CLEAN", "EXIT_ERROR", "EXIT_FINDINGS", "build_parser", "exit_status", "main"]

#: Each command's handler, imported when it runs: ``gradguard server`` does not load
#: the batch runner, the result cache and the report formats before ``initialize``.
_HANDLERS = {
    "check": ("gradguard.cli.check", "run_check"),
    "rule": ("gradguard.cli.rule", "run_rule"),
    "server": ("gradguard.cli.serve", "run_server"),
    "clean": ("gradguard.cli.cached", "run_clean"),
}
_FROM_CHECK = frozenset({"EXIT_CLEAN", "EXIT_ERROR", "EXIT_FINDINGS", "exit_status"})


def __getattr__(name: str) -> Any:
    if name in _FROM_CHECK:
        return getattr(importlib.import_module("gradguard.cli.check"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(argv) if argv is not None else sys.argv[1:]
    if arguments == ["server"]:  # how editors start it: nothing to parse, answer at once
        return _serve_stdio()
    import logging  # not before the server's initialize answer (gradguard.lsp.early)

    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="gradguard: %(levelname)s: %(message)s"
    )
    args = parse(build_parser(), arguments)
    module, function = _HANDLERS[args.command]
    try:
        return int(getattr(importlib.import_module(module), function)(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0  # EXIT_CLEAN: the reader went away


def _serve_stdio() -> int:
    from gradguard.lsp.early import serve_stdio

    try:
        serve_stdio()
    except KeyboardInterrupt:
        return 130
    return 0
