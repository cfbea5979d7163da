"""The analysis entry point: text in, findings out. No LSP, no I/O."""

from __future__ import annotations

import ast
import contextlib
import logging
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator

from gradguard import astlock
from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.resolution import SymbolResolver
from gradguard.config import Config
from gradguard.findings import AnalysisResult, Finding, ParseError, Position
from gradguard.noqa import parse_suppressions
from gradguard.rules import all_rules
from gradguard.rules.base import Rule, RuleContext
from gradguard.semantic.reads import ReadLog
from gradguard.source import SourceFile

log = logging.getLogger(__name__)

# Deeply nested generated code can exhaust the default recursion limit inside
# ``ast``; analysis runs with this much headroom instead of crashing.
_RECURSION_LIMIT = 20_000


class AnalysisCancelled(Exception):
    """Raised between two rules when the caller's ``cancelled()`` says so (the language
    server abandons a background check when the user types again)."""


def parse(source: SourceFile) -> ast.Module | ParseError:
    """The file's tree, or why it has none. A ``SystemError`` from CPython's AST
    constructor (docs/reliability.md) is retried once, then raised: it says nothing
    about the file, and the caller reports it as an internal error."""
    try:
        return _parse_locked(source)
    except SystemError as error:
        log.debug("%s: SystemError from ast.parse (%s); parsing again", source.path, error)
    return _parse_locked(source)  # outside the handler: a second failure is not chained


def _parse_locked(source: SourceFile) -> ast.Module | ParseError:
    try:
        # Inside the lock: catch_warnings swaps process-wide state too.
        with astlock.AST_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for invalid escapes etc.
            tree: ast.Module = astlock.parse(source.text, filename=source.path, type_comments=False)
            return tree
    except SyntaxError as error:
        line = max((error.lineno or 1) - 1, 0)
        column = max((error.offset or 1) - 1, 0)
        return ParseError(f"syntax error: {error.msg}", Position(line, column))
    except (ValueError, RecursionError, MemoryError) as error:
        # The parser's own stack overflow is a MemoryError without a message.
        reason = str(error) or f"{type(error).__name__} (the code is nested too deeply)"
        return ParseError(f"cannot parse: {reason}", Position(0, 0))


def analyze(
    text: str,
    path: str = "<stdin>",
    *,
    config: Config | None = None,
    resolver: SymbolResolver | None = None,
    rules: Iterable[Rule] | None = None,
    time_limit: float | None = None,
) -> AnalysisResult:
    """Analyse one file's text and return its findings (never raises).

    With ``time_limit`` (seconds), no rule starts once that much time has passed
    since the call: the rules left are skipped and named in a notice (the LSP
    server uses this so one pathological file cannot hold a worker for long).
    """
    result, _ = analyze_with_facts(
        text, path, config=config, resolver=resolver, rules=rules, time_limit=time_limit
    )
    return result


def analyze_with_facts(
    text: str,
    path: str = "<stdin>",
    *,
    config: Config | None = None,
    resolver: SymbolResolver | None = None,
    rules: Iterable[Rule] | None = None,
    time_limit: float | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> tuple[AnalysisResult, ModuleFacts | None]:
    """:func:`analyze`, also returning the file's facts (tree, parent map, indexes)
    when they were built, for callers that answer more questions about the same
    version (the language server's hovers); None when no rule needed them.
    ``cancelled``: asked before each rule; True raises :class:`AnalysisCancelled`."""
    started = time.monotonic()
    config = config or Config()
    result = AnalysisResult()
    encoded_size = len(text.encode("utf-8", "surrogatepass"))
    if encoded_size > config.max_file_bytes:
        result.notices.append(
            f"{path}: skipped, {encoded_size} bytes is over the {config.max_file_bytes}-byte "
            "limit (max-file-bytes)"
        )
        result.skipped = True
        return result, None
    source = SourceFile(text, path)
    with _recursion_headroom():
        tree = parse(source)
        if isinstance(tree, ParseError):
            result.parse_error = tree
            return result, None
        deadline = None if time_limit is None else started + time_limit
        return analyze_tree(source, tree, config, resolver, rules, deadline, cancelled)


def analyze_tree(
    source: SourceFile,
    tree: ast.Module,
    config: Config,
    resolver: SymbolResolver | None = None,
    rules: Iterable[Rule] | None = None,
    deadline: float | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> tuple[AnalysisResult, ModuleFacts | None]:
    """The rules on a parsed tree of ``source`` (the whole file, or only some of its
    top-level statements: :mod:`gradguard.incremental`), findings filtered by the
    file's ``noqa`` comments and the configured severities."""
    result = AnalysisResult()
    path = source.path
    with _recursion_headroom():
        selected = applicable_rules(source, config, rules or all_rules())
        if not selected:
            return result, None  # nothing here any enabled rule looks for: no facts needed
        try:
            facts = ModuleFacts(source, tree, resolver)
        except RecursionError:
            result.notices.append(f"{path}: skipped, nesting is too deep to analyse")
            result.skipped = True
            return result, None
        try:
            context = RuleContext(facts)
            result.findings = _run_rules(selected, context, result.notices, deadline, cancelled)
        finally:
            facts.release()
    text = source.text
    # Tokenizing for comments costs 6-12% of an analysis: only when it can matter.
    if result.findings and "noqa" in text.lower():
        suppressions = parse_suppressions(text)
        result.findings = [f for f in result.findings if not suppressions.silences(f)]
    result.findings = sorted(
        {f.with_severity(config.severity_for(f.code, f.severity)) for f in result.findings},
        key=lambda f: f.sort_key,
    )
    return result, facts


@contextlib.contextmanager
def _recursion_headroom() -> Iterator[None]:
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old_limit, _RECURSION_LIMIT))
    try:
        yield
    finally:
        sys.setrecursionlimit(old_limit)


def applicable_rules(source: SourceFile, config: Config, rules: Iterable[Rule]) -> list[Rule]:
    """The enabled rules whose text gate lets this file through (``Rule.may_apply``)."""
    searchable = source.searchable_text
    return [r for r in rules if config.is_enabled(r.code, source.path) and r.may_apply(searchable)]


def _run_rules(
    rules: list[Rule],
    context: RuleContext,
    notices: list[str],
    deadline: float | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> list[Finding]:
    findings: list[Finding] = []
    reads = ReadLog.of(context.facts)
    for index, rule in enumerate(rules):
        if cancelled is not None and cancelled():
            raise AnalysisCancelled
        if deadline is not None and time.monotonic() > deadline:
            skipped = ", ".join(r.code for r in rules[index:])
            notices.append(
                f"{context.source.path}: analysis stopped at the time limit; "
                f"rules not run: {skipped}"
            )
            break
        if reads is not None:
            reads.rule = rule.code  # the owner of the scans no reader claims
        try:
            findings.extend(rule.check(context))
        except RecursionError:  # a limit of the input (a 20,000-term expression), not a bug
            notices.append(
                f"{context.source.path}: rule {rule.code} skipped, nesting is too deep to analyse"
            )
        except Exception as error:  # one broken rule must not hide the others
            log.exception("rule %s failed on %s", rule.code, context.source.path)
            notices.append(
                f"{context.source.path}: internal error in rule {rule.code} "
                f"({type(error).__name__}: {error}); other rules still ran"
            )
    return findings
