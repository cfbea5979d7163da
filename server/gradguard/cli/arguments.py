"""The command line's arguments (``check``, ``rule``, ``server``)."""

from __future__ import annotations

import argparse
import os
import sys

from gradguard import __version__
from gradguard.format_names import FORMAT_NAMES


def default_jobs() -> int:
    """The CPUs this process may run on (a container or ``taskset`` may allow fewer than
    the machine has)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # pragma: no cover - macOS and Windows have no affinity call
        return os.cpu_count() or 1


def _terminal_width() -> int:
    """:func:`shutil.get_terminal_size`'s columns (``COLUMNS``, the terminal, else 80),
    without importing shutil and the compression modules it brings on every run."""
    try:
        if (columns := int(os.environ["COLUMNS"])) > 0:
            return columns
    except (KeyError, ValueError):
        pass
    try:
        stdout = sys.__stdout__
        return (os.get_terminal_size(stdout.fileno()).columns if stdout else 0) or 80
    except (AttributeError, ValueError, OSError):
        return 80


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's own, given the width: argparse makes one per ``add_argument`` and,
    without a width, each imports shutil to ask the terminal."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24) -> None:
        super().__init__(prog, indent_increment, max_help_position, _terminal_width() - 2)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_selection(check: argparse.ArgumentParser) -> None:
    for flag, meaning in (
        ("--select", "only these codes or prefixes, or ALL (comma-separated)"),
        ("--extend-select", "also these codes or prefixes"),
        ("--ignore", "skip these codes or prefixes"),
    ):
        check.add_argument(flag, action="append", metavar="CODES", help=meaning)
    check.add_argument(
        "--extend-exclude",
        action="append",
        metavar="PATTERNS",
        help="also skip files and directories matching these gitignore-style patterns",
    )
    check.add_argument(
        "--force-exclude",
        action="store_true",
        help="apply exclusions to files and directories named on the command line too "
        "(for pre-commit)",
    )


def _add_fixing(check: argparse.ArgumentParser) -> None:
    check.add_argument("--fix", action="store_true", help="apply safe fixes in place")
    check.add_argument(
        "--unsafe-fixes", action="store_true", help="with --fix or --diff, also apply unsafe fixes"
    )
    check.add_argument(
        "--diff", action="store_true", help="print the fixes as a diff instead of writing them"
    )
    check.add_argument(
        "--show-fixes", action="store_true", help="with --fix, list the fixes that were applied"
    )
    check.add_argument(
        "--add-noqa",
        action="store_true",
        help="add `# noqa: GGxxx` to every line with a finding (to baseline a codebase)",
    )


def _add_exit(check: argparse.ArgumentParser) -> None:
    check.add_argument(
        "--exit-zero", action="store_true", help="exit 0 even when findings are reported"
    )
    check.add_argument(
        "--exit-non-zero-on-fix",
        action="store_true",
        help="exit 1 when --fix changed a file, even if no finding remains",
    )


def _add_output(check: argparse.ArgumentParser) -> None:
    check.add_argument(
        "--format",
        "--output-format",
        choices=sorted(FORMAT_NAMES),
        default="concise",
        metavar="FORMAT",
        help=f"one of {', '.join(sorted(FORMAT_NAMES))} (default: concise; text is its old name)",
    )
    check.add_argument("-o", "--output-file", metavar="PATH", help="write the report to PATH")
    check.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print findings only: no summary line, notices or noqa warnings",
    )
    check.add_argument("--statistics", action="store_true", help="print counts per rule")


def _add_running(check: argparse.ArgumentParser) -> None:
    check.add_argument(
        "--stdin-filename",
        metavar="PATH",
        help="read the code from stdin and report it under this path",
    )
    check.add_argument(
        "--config",
        metavar="FILE",
        help="a pyproject.toml or gradguard.toml to use instead of the nearest one",
    )
    check.add_argument(
        "--jobs",
        "-j",
        type=_positive,
        default=None,
        metavar="N",
        help="worker processes (default: the CPUs this process may use)",
    )
    check.add_argument(
        "--no-resolve",
        action="store_true",
        help="do not ask jedi about names imported from other modules",
    )
    check.add_argument(
        "--no-cache",
        action="store_true",
        help="read and keep nothing on disk: neither each file's results nor jedi's "
        "answers nor jedi's and parso's parse caches (default: in $GRADGUARD_CACHE_DIR, "
        "else ~/.cache/gradguard; reused while the files they came from are unchanged; "
        "`gradguard clean` empties it)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gradguard",
        description="Find optimizer, parameter and gradient bugs in PyTorch code.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"gradguard {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser(
        "check", help="check files, directories and notebooks", formatter_class=_HelpFormatter
    )
    check.add_argument(
        "paths", nargs="*", help="files, notebooks or directories (default: .); - for stdin"
    )
    for add in (_add_selection, _add_fixing, _add_exit, _add_output, _add_running):
        add(check)

    rule = commands.add_parser(
        "rule", help="print a rule's documentation", formatter_class=_HelpFormatter
    )
    rule.add_argument("code", nargs="?", help="a code (GG201) or name (none-assigned-to-parameter)")
    rule.add_argument("--all", action="store_true", help="list every rule")
    rule.add_argument(
        "--format", choices=("text", "json"), default="text", help="json: for tools (with its URL)"
    )

    server = commands.add_parser(
        "server", help="run the language server over stdio", formatter_class=_HelpFormatter
    )
    server.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead (debugging)")
    # vscode-languageclient appends --stdio in its stdio transport; stdio is the default.
    server.add_argument("--stdio", action="store_true", help="use stdio (the default)")
    clean = commands.add_parser(
        "clean", help="empty GradGuard's cache directory", formatter_class=_HelpFormatter
    )
    clean.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    parser.set_defaults(subparsers={"check": check, "rule": rule, "server": server, "clean": clean})
    return parser


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Like ``parse_args``, but an unknown option of a command prints that command's usage."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        command = parser.get_default("subparsers")[args.command]
        command.error(f"unrecognized arguments: {' '.join(extra)}")
    return args
