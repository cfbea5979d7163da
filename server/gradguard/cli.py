"""The ``gradguard`` command line: ``check``, ``rule`` and ``server``.

Exit codes of ``check`` (:func:`exit_status`): 0 clean, 1 findings (or unparseable
files, or a non-empty ``--diff``), 2 usage or configuration errors (the run still
completes with the defaults for every invalid key, so the findings are printed too)
or an internal error on some file (reported as that file's error; the other files
are still checked: :mod:`gradguard.runner`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from pathlib import Path

from gradguard import __version__, cache_paths, files, gctuning, runner
from gradguard.analysis.resolution import SymbolResolver
from gradguard.config import Config, ConfigError, config_for, load_pyproject
from gradguard.engine import analyze
from gradguard.findings import AnalysisResult
from gradguard.fixer import fix_text
from gradguard.output import FORMATTERS, FileReport, format_statistics
from gradguard.rules import all_rules, get_rule

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
#: jedi's budget per name in ``check``: a name jedi takes longer for is unknown, so a
#: budget that a busy machine exceeds makes the findings depend on the load. With 2 s
#: (the resolver's default) and with 30 s, runs over torch's sources on a loaded 2-core
#: machine differed by a finding (one query took 5 s alone at load 13; the first query
#: of a process, 0.9 s idle, took 3.4 s at load 5). This cap is only against
#: pathological queries; the deny list keeps out the known ones (docs/reliability.md).
JEDI_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class CheckOptions:
    fix: bool = False
    unsafe_fixes: bool = False
    diff: bool = False
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    config_file: str | None = None
    resolve: bool = True
    #: Keep jedi's answers on disk between runs and share them between workers.
    answer_cache: bool = True


@dataclass(frozen=True)
class FileOutcome:
    report: FileReport
    fixed_text: str | None = None  # set when fixes changed the text
    diff: str = ""
    notices: tuple[str, ...] = ()


# -- configuration ---------------------------------------------------------------


def _apply_overrides(config: Config, options: CheckOptions) -> Config:
    if options.select is not None:
        config = replace(config, select=options.select)
    if options.ignore is not None:
        config = replace(config, ignore=config.ignore + options.ignore)
    return config


@lru_cache(maxsize=256)
def _config_for_directory(directory: str, options: CheckOptions) -> Config:
    if options.config_file:
        config = load_pyproject(Path(options.config_file))
    else:
        config = config_for(Path(directory) / "__file__")
    return _apply_overrides(config, options)


def config_for_file(path: Path, options: CheckOptions) -> Config:
    directory = path.parent if str(path) != "-" else Path.cwd()
    return _config_for_directory(str(directory.resolve()), options)


# -- analysing one file ----------------------------------------------------------

_resolver: SymbolResolver | None = None


def _get_resolver(options: CheckOptions, root: str) -> SymbolResolver | None:
    """One jedi resolver per process, created on first use (jedi is optional speed-wise)."""
    global _resolver
    if not options.resolve:
        return None
    if _resolver is None:
        try:
            from gradguard.resolver import JediResolver
        except ImportError:  # pragma: no cover - jedi is a dependency
            return None
        from gradguard.answers import AnswerStore

        # --no-cache: neither GradGuard nor jedi nor parso keeps anything on disk.
        directory = cache_paths.cache_directory() if options.answer_cache else None
        cache_paths.use_for_libraries(directory)
        store = AnswerStore(directory) if directory is not None else None
        _resolver = JediResolver(project_root=root, store=store, timeout=JEDI_TIMEOUT_S)
    return _resolver


def check_text(text: str, path: str, config: Config, options: CheckOptions) -> FileOutcome:
    resolver = _get_resolver(options, config.root)

    def analyse(current: str) -> AnalysisResult:
        return analyze(current, path, config=config, resolver=resolver)

    if options.fix or options.diff:
        outcome = fix_text(text, analyse, unsafe=options.unsafe_fixes)
        result, fixed = outcome.result, (outcome.text if outcome.text != text else None)
    else:
        result, fixed = analyse(text), None
    diff = _unified_diff(path, text, fixed) if fixed is not None else ""
    return FileOutcome(_report(path, result), fixed, diff, tuple(result.notices))


def _report(path: str, result: AnalysisResult) -> FileReport:
    if result.parse_error:
        error = result.parse_error
        line, column = error.position.line + 1, error.position.column + 1
        message = f"{path}:{line}:{column}: {error.message} (file not analysed)"
        return FileReport(path, (), message, line, column)
    return FileReport(path, tuple(result.findings))


def internal_error(path: Path | str, reason: str) -> FileOutcome:
    """The report of a file GradGuard failed on (an exception, a dead worker)."""
    message = f"{path}: internal error: {reason} (file not analysed)"
    return FileOutcome(FileReport(str(path), (), message, internal=True))


def _unified_diff(path: str, before: str, after: str) -> str:
    import difflib  # imported when needed: start-up time counts on every run

    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"a/{path}",
            tofile=f"b/{path}",
        )
    )


def check_file(path: Path, options: CheckOptions) -> FileOutcome:
    try:
        source = files.read(path)
    except files.UnreadableFile as error:
        return FileOutcome(FileReport(str(path), (), str(error)))
    config = config_for_file(path, options)
    outcome = check_text(source.text, str(path), config, options)
    if outcome.fixed_text is not None and options.fix and not options.diff:
        files.write(path, files.SourceText(outcome.fixed_text, source.encoding))
    return outcome


# -- the check command -----------------------------------------------------------


def _check_paths(paths: list[Path], options: CheckOptions, jobs: int) -> list[FileOutcome]:
    targets = sorted(
        set(files.discover(paths, lambda d: config_for_file(d / "__file__", options))),
        key=str,
    )
    gctuning.tune_for_analysis()
    job = runner.Job(
        partial(check_file, options=options), internal_error, gctuning.tune_for_analysis
    )
    return runner.run_all(targets, job, jobs)


def _config_errors(paths: list[Path], options: CheckOptions) -> list[ConfigError]:
    seen: dict[str, ConfigError] = {}
    for path in paths:
        config = config_for_file(path if path.is_file() else path / "__file__", options)
        for error in config.errors:
            seen.setdefault(str(error), error)
    return list(seen.values())


def run_check(args: argparse.Namespace) -> int:
    options = CheckOptions(
        fix=args.fix,
        unsafe_fixes=args.unsafe_fixes,
        diff=args.diff,
        select=_split_codes(args.select),
        ignore=_split_codes(args.ignore),
        config_file=args.config,
        resolve=not args.no_resolve,
        answer_cache=not args.no_cache,
    )
    _config_for_directory.cache_clear()  # pyproject.toml may have changed since the last run
    usage_problem = _validate_cli_codes(options)
    if usage_problem:
        print(f"gradguard: error: {usage_problem}", file=sys.stderr)
        return EXIT_ERROR
    if args.paths == ["-"]:
        outcomes = [_check_stdin(args, options)]
        config_errors = _config_errors([Path.cwd() / "__file__"], options)
    else:
        paths = [Path(p) for p in (args.paths or ["."])]
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            print(
                f"gradguard: error: no such file or directory: {', '.join(missing)}",
                file=sys.stderr,
            )
            return EXIT_ERROR
        outcomes = _check_paths(paths, options, args.jobs or os.cpu_count() or 1)
        config_errors = _config_errors(paths, options)
    return _emit(args, options, outcomes, config_errors)


def _check_stdin(args: argparse.Namespace, options: CheckOptions) -> FileOutcome:
    name = args.stdin_filename or "-"
    data = sys.stdin.buffer.read()
    try:
        source = files.decode(data, name)
    except files.UnreadableFile as error:
        return FileOutcome(FileReport(name, (), str(error)))
    config = config_for_file(Path(name) if args.stdin_filename else Path("-"), options)
    # On an internal error the text goes back unchanged: with --fix it is the user's buffer.
    outcome = runner.guarded(
        lambda _: check_text(source.text, name, config, options), internal_error, Path(name)
    )
    if options.fix and not options.diff:
        sys.stdout.write(outcome.fixed_text if outcome.fixed_text is not None else source.text)
    return outcome


def _emit(
    args: argparse.Namespace,
    options: CheckOptions,
    outcomes: list[FileOutcome],
    config_errors: list[ConfigError],
) -> int:
    reports = [o.report for o in outcomes]
    # With --fix on stdin the fixed code owns stdout; the report goes to stderr.
    stream = (
        sys.stderr if (args.paths == ["-"] and options.fix and not options.diff) else sys.stdout
    )
    for error in config_errors:
        print(f"gradguard: invalid configuration: {error} (default used)", file=sys.stderr)
    for outcome in outcomes:
        for notice in outcome.notices:
            print(f"gradguard: {notice}", file=sys.stderr)
    if options.diff:
        stream.write("".join(o.diff for o in outcomes))
    elif args.statistics:
        stream.write(format_statistics(reports))
    else:
        stream.write(FORMATTERS[args.format](reports))
    fixed = sum(1 for o in outcomes if o.fixed_text is not None)
    if options.fix and not options.diff and args.format == "text":
        print(f"gradguard: fixed {fixed} file(s)", file=sys.stderr)
    problems = any(r.findings or r.error for r in reports)
    if options.diff:
        problems = any(o.diff for o in outcomes) or any(r.error for r in reports)
    return exit_status(
        problems=problems,
        internal_error=any(r.internal for r in reports),
        invalid_configuration=bool(config_errors),
    )


def exit_status(*, problems: bool, internal_error: bool, invalid_configuration: bool) -> int:
    """2 when GradGuard could not do its job in full (an invalid configuration, a file
    it failed on), else 1 when it has something to report, else 0."""
    if internal_error or invalid_configuration:
        return EXIT_ERROR
    return EXIT_FINDINGS if problems else EXIT_CLEAN


def _split_codes(raw: list[str] | None) -> tuple[str, ...] | None:
    if raw is None:
        return None
    return tuple(code.strip().upper() for item in raw for code in item.split(",") if code.strip())


def _validate_cli_codes(options: CheckOptions) -> str | None:
    known_prefixes = {rule.code[:n] for rule in all_rules() for n in range(2, 6)}
    for code in (options.select or ()) + (options.ignore or ()):
        if code not in known_prefixes:
            return f"unknown rule code or prefix {code!r} (see `gradguard rule --all`)"
    return None


# -- the rule command ------------------------------------------------------------


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


# -- argument parsing ------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gradguard",
        description="Find optimizer, parameter and gradient bugs in PyTorch code.",
    )
    parser.add_argument("--version", action="version", version=f"gradguard {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("check", help="check files and directories")
    check.add_argument("paths", nargs="*", help="files or directories (default: .); - for stdin")
    check.add_argument("--format", choices=sorted(FORMATTERS), default="text")
    check.add_argument("--fix", action="store_true", help="apply safe fixes in place")
    check.add_argument(
        "--unsafe-fixes", action="store_true", help="with --fix or --diff, also apply unsafe fixes"
    )
    check.add_argument(
        "--diff", action="store_true", help="print the fixes as a diff instead of writing them"
    )
    check.add_argument(
        "--select",
        action="append",
        metavar="CODES",
        help="only these codes or prefixes (comma-separated)",
    )
    check.add_argument(
        "--ignore",
        action="append",
        metavar="CODES",
        help="skip these codes or prefixes (comma-separated)",
    )
    check.add_argument("--statistics", action="store_true", help="print counts per rule")
    check.add_argument("--stdin-filename", help="the path of the code read from stdin")
    check.add_argument("--config", help="a pyproject.toml to use instead of the nearest one")
    check.add_argument(
        "--jobs", "-j", type=int, default=0, help="worker processes (default: one per core)"
    )
    check.add_argument(
        "--no-resolve",
        action="store_true",
        help="do not ask jedi about names imported from other modules",
    )
    check.add_argument(
        "--no-cache",
        action="store_true",
        help="keep nothing on disk: neither jedi's answers nor jedi's and parso's parse "
        "caches (default: in $GRADGUARD_CACHE_DIR, else ~/.cache/gradguard; reused while "
        "the files they came from are unchanged)",
    )
    check.set_defaults(handler=run_check)

    rule = commands.add_parser("rule", help="print a rule's documentation")
    rule.add_argument("code", nargs="?", help="a code (GG201) or name (none-assigned-to-parameter)")
    rule.add_argument("--all", action="store_true", help="list every rule")
    rule.set_defaults(handler=run_rule)

    server = commands.add_parser("server", help="run the language server over stdio")
    server.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead (debugging)")
    # vscode-languageclient appends --stdio in its stdio transport; stdio is the default.
    server.add_argument("--stdio", action="store_true", help="use stdio (the default)")
    server.set_defaults(handler=run_server)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="gradguard: %(levelname)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_CLEAN


if __name__ == "__main__":
    sys.exit(main())
