"""``gradguard check``: find the files, analyse them, print the report, pick the exit status."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from gradguard import files
from gradguard.cli import cached
from gradguard.cli.arguments import default_jobs
from gradguard.cli.outcome import (
    CheckOptions,
    FileOutcome,
    clear_config_cache,
    config_for_file,
    internal_error,
)
from gradguard.config import Config, ConfigError
from gradguard.findings import Severity
from gradguard.output import (
    HUMAN_FORMATS,
    FileReport,
    format_statistics,
    formatter,
    summary_line,
)

# The engine, the rules and the runner are imported where a file is analysed: a rerun
# whose files are all in the result cache does not load them (cli/cached.py).

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
#: Findings of these severities make the exit status 1; information and hints do not.
FAILING_SEVERITIES = frozenset({Severity.ERROR, Severity.WARNING})


def exit_status(
    outcomes: list[FileOutcome],
    *,
    config_errors: bool = False,
    diff: bool = False,
    exit_zero: bool = False,
    exit_non_zero_on_fix: bool = False,
) -> int:
    """The one place the exit status is decided: 2 when GradGuard could not do its job
    in full (an invalid configuration, a file it failed on); 1 for a file not
    analysed, a finding of severity error or warning (``--diff``: a fix to apply), or
    with ``--exit-non-zero-on-fix`` a file fixed; ``--exit-zero`` turns the findings'
    1 into 0 (never a 2)."""
    if config_errors or any(o.report.internal for o in outcomes):
        return EXIT_ERROR
    reports = [o.report for o in outcomes]
    if diff:
        failing = any(o.diff for o in outcomes)
    else:
        failing = any(f.severity in FAILING_SEVERITIES for r in reports for f in r.findings)
    failing = failing or any(r.error for r in reports)
    if exit_non_zero_on_fix and any(o.fixed_text is not None for o in outcomes):
        return EXIT_FINDINGS
    return EXIT_FINDINGS if failing and not exit_zero else EXIT_CLEAN


def _split_codes(raw: list[str] | None) -> tuple[str, ...] | None:
    if raw is None:
        return None
    return tuple(code.strip().upper() for item in raw for code in item.split(",") if code.strip())


def _check_cli_codes(*groups: tuple[str, ...] | None) -> str | None:
    codes = [code for group in groups for code in group or ()]
    if not codes:  # importing every rule costs start-up time a cached rerun would not pay
        return None
    from gradguard.rules import all_rules

    known_prefixes = {rule.code[:n] for rule in all_rules() for n in range(2, 6)} | {"ALL"}
    for code in codes:
        if code not in known_prefixes:
            return f"unknown rule code or prefix {code!r} (see `gradguard rule --all`)"
    return None


def options_from(args: argparse.Namespace) -> CheckOptions:
    return CheckOptions(
        fix=args.fix,
        unsafe_fixes=args.unsafe_fixes,
        diff=args.diff,
        select=_split_codes(args.select),
        extend_select=_split_codes(args.extend_select) or (),
        ignore=_split_codes(args.ignore) or (),
        config_file=args.config,
        resolve=not args.no_resolve,
        answer_cache=not args.no_cache,
        force_exclude=args.force_exclude,
        exclude=tuple(p for item in args.extend_exclude or () for p in item.split(",") if p),
    )


def _usage_error(message: str) -> int:
    print(f"gradguard check: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def run_check(args: argparse.Namespace) -> int:
    options = options_from(args)
    clear_config_cache()
    problem = _check_cli_codes(options.select, options.extend_select, options.ignore)
    if problem:
        return _usage_error(problem)
    if options.config_file and not Path(options.config_file).is_file():
        return _usage_error(f"--config {options.config_file}: no such file (nothing checked)")
    if args.output_file and not Path(args.output_file).parent.is_dir():
        return _usage_error(f"--output-file {args.output_file}: no such directory")
    reading_stdin = args.paths == ["-"] or (args.stdin_filename is not None and not args.paths)
    if reading_stdin and args.add_noqa:
        return _usage_error("--add-noqa edits files in place; it cannot read standard input")
    if reading_stdin:
        outcomes = [_check_stdin(args, options)]
        config_errors = _config_errors([Path.cwd() / "__file__"], options)
    else:
        paths = [Path(p) for p in (args.paths or ["."])]
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            return _usage_error(f"no such file or directory: {', '.join(missing)}")
        targets = _targets(paths, options)
        if args.add_noqa:
            from gradguard.cli.noqa import add_noqa

            return add_noqa(targets, options, quiet=args.quiet)
        outcomes = cached.check_paths(targets, options, args.jobs or default_jobs())
        config_errors = _config_errors(paths, options)
    if not _emit(args, options, outcomes, config_errors, to_stderr=reading_stdin and options.fix):
        return EXIT_ERROR
    return exit_status(
        outcomes,
        config_errors=bool(config_errors),
        diff=options.diff,
        exit_zero=args.exit_zero,
        exit_non_zero_on_fix=args.exit_non_zero_on_fix,
    )


def _targets(paths: list[Path], options: CheckOptions) -> list[Path]:
    def config_for_directory(directory: Path) -> Config:
        config = config_for_file(directory / "__file__", options)
        if options.exclude:
            config = replace(config, extend_exclude=(*config.extend_exclude, *options.exclude))
        return config

    found = files.discover(paths, config_for_directory, force_exclude=options.force_exclude)
    return sorted(set(found), key=str)


def _config_errors(paths: list[Path], options: CheckOptions) -> list[ConfigError]:
    seen: dict[str, ConfigError] = {}
    for path in paths:
        config = config_for_file(path if path.is_file() else path / "__file__", options)
        for error in config.errors:
            seen.setdefault(str(error), error)
    return list(seen.values())


def _check_stdin(args: argparse.Namespace, options: CheckOptions) -> FileOutcome:
    from gradguard import runner
    from gradguard.cli.analyse import check_text

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
    *,
    to_stderr: bool,
) -> bool:
    """Print everything; False when the report could not be written."""
    reports = [o.report for o in outcomes]
    for error in config_errors:
        consequence = " (default used)" if error.default_used else ""
        print(f"gradguard: invalid configuration: {error}{consequence}", file=sys.stderr)
    # --quiet (ruff's "diagnostics, but nothing else"): the configuration error stays, since it
    # changes what the findings are; notices and noqa warnings go.
    for outcome in [] if args.quiet else outcomes:
        for notice in outcome.notices:
            print(f"gradguard: {notice}", file=sys.stderr)
        for warning in outcome.noqa_warnings:
            print(f"gradguard: warning: {warning}", file=sys.stderr)
    with ExitStack() as stack:
        # With --fix on stdin the fixed code owns stdout; the report goes to stderr.
        stream: TextIO = sys.stderr if to_stderr else sys.stdout
        if args.output_file:
            try:
                stream = stack.enter_context(open(args.output_file, "w", encoding="utf-8"))
            except OSError as error:
                print(f"gradguard check: error: --output-file: {error}", file=sys.stderr)
                return False
        if options.diff:
            stream.write("".join(o.diff for o in outcomes))
        elif args.statistics:
            stream.write(format_statistics(reports, args.format))
        else:
            stream.write(formatter(args.format)(reports))
    if args.show_fixes and options.fix and not options.diff:
        sys.stderr.write(_fixes_listing(outcomes))
    if args.format not in HUMAN_FORMATS or args.quiet:
        return True
    fixed = sum(sum(o.fixed_codes.values()) for o in outcomes)
    if options.diff:  # ruff's wording: nothing was written
        print(f"Would fix {fixed} finding{'s' if fixed != 1 else ''}.", file=sys.stderr)
    else:
        print(summary_line(reports, fixed, fixing=options.fix), file=sys.stderr)
    return True


def _fixes_listing(outcomes: list[FileOutcome]) -> str:
    """ruff's ``--show-fixes``: per file, how many findings of each rule were fixed."""
    lines = []
    for outcome in outcomes:
        if not outcome.fixed_codes:
            continue
        lines.append(f"{outcome.report.path}:")
        for code, count in sorted(Counter(outcome.fixed_codes).items()):
            lines.append(f"    {count} × {code}")
    if not lines:
        return "No fixes applied.\n"
    total = sum(sum(o.fixed_codes.values()) for o in outcomes)
    return f"Fixed {total} finding{'s' if total != 1 else ''}:\n" + "\n".join(lines) + "\n"


__all__ = ["EXIT_CLEAN", "EXIT_ERROR", "EXIT_FINDINGS", "exit_status", "run_check"]
