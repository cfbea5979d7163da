"""Checking one file (a Python file or a notebook) for ``gradguard check``.

Imported only when a file is analysed: the options, outcomes and configuration
lookup a cached rerun needs are in :mod:`gradguard.cli.outcome` (re-exported here).
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from pathlib import Path

from gradguard import cache_paths, files
from gradguard.analysis.resolution import SymbolResolver
from gradguard.cli.outcome import (
    CheckOptions,
    FileOutcome,
    clear_config_cache,
    config_for_file,
    internal_error,
)
from gradguard.config import Config
from gradguard.engine import analyze
from gradguard.findings import AnalysisResult, Fix
from gradguard.fixer import fix_document, fix_text
from gradguard.noqa import noqa_problems
from gradguard.notebook import (
    NOTEBOOK_SUFFIX,
    JoinedCells,
    NotebookError,
    apply_placeable,
    join_cells,
    parse_notebook,
)
from gradguard.output.report import FileReport
from gradguard.rules import all_rules

__all__ = [
    "CheckOptions",
    "FileOutcome",
    "check_file",
    "check_text",
    "clear_config_cache",
    "config_for_file",
    "internal_error",
]


@lru_cache(maxsize=1)
def known_codes() -> frozenset[str]:
    return frozenset(rule.code for rule in all_rules())


# -- analysing -------------------------------------------------------------------------

_resolver: SymbolResolver | None = None
#: jedi's budget per name in ``check``: a name jedi takes longer for is unknown, so a
#: budget that a busy machine exceeds makes the findings depend on the load. With 2 s
#: (the resolver's default) and with 30 s, runs over torch's sources on a loaded 2-core
#: machine differed by a finding (one query took 5 s alone at load 13; the first query
#: of a process, 0.9 s idle, took 3.4 s at load 5). This cap is only against
#: pathological queries; the deny list keeps out the known ones (docs/reliability.md).
JEDI_TIMEOUT_S = 120.0


def _get_resolver(options: CheckOptions, root: str) -> SymbolResolver | None:
    """One jedi resolver per process, created on first use."""
    global _resolver
    if not options.resolve:
        return None
    if _resolver is None:
        from gradguard.answers import AnswerStore
        from gradguard.resolver import JediResolver

        # --no-cache: neither GradGuard nor jedi nor parso keeps anything on disk.
        directory = cache_paths.cache_directory() if options.answer_cache else None
        cache_paths.use_for_libraries(directory)
        store = AnswerStore(directory) if directory is not None else None
        _resolver = JediResolver(project_root=root, store=store, timeout=JEDI_TIMEOUT_S)
    return _resolver


def check_text(text: str, path: str, config: Config, options: CheckOptions) -> FileOutcome:
    """Analyse ``text`` (a notebook's JSON when ``path`` ends in ``.ipynb``)."""
    if path.endswith(NOTEBOOK_SUFFIX):
        return _check_notebook(text, path, config, options)
    resolver = _get_resolver(options, config.root)

    def analyse(current: str) -> AnalysisResult:
        return analyze(current, path, config=config, resolver=resolver)

    first = _Recording(analyse)
    if options.fix or options.diff:
        outcome = fix_text(text, first, unsafe=options.unsafe_fixes)
        result, fixed = outcome.result, (outcome.text if outcome.text != text else None)
    else:
        result, fixed = analyse(text), None
    diff = unified_diff(path, text, fixed) if fixed is not None else ""
    final = fixed if fixed is not None else text
    report = _report(path, result, final, docs_url=config.docs_url)
    warnings = _noqa_warnings(path, final)
    return FileOutcome(report, fixed, diff, tuple(result.notices), warnings, first.fixed(result))


def _check_notebook(text: str, path: str, config: Config, options: CheckOptions) -> FileOutcome:
    try:
        notebook = parse_notebook(text)
    except NotebookError as error:
        return FileOutcome(FileReport(path, (), f"{path}:{error}"))
    resolver = _get_resolver(options, config.root)

    def analyse(sources: dict[str, str]) -> AnalysisResult:
        return analyze(
            join_cells(list(sources.items())).text, path, config=config, resolver=resolver
        )

    def apply(sources: dict[str, str], fixes: list[Fix]) -> dict[str, str]:
        joined = join_cells(list(sources.items()))
        return apply_placeable(joined, sources, [fix.edits for fix in fixes])

    sources, first = notebook.sources, _Recording(analyse)
    if options.fix or options.diff:
        outcome = fix_document(
            notebook.sources,
            first,
            apply,
            lambda s: join_cells(list(s.items())).text,
            unsafe=options.unsafe_fixes,
        )
        result, sources = outcome.result, outcome.document
    else:
        result = analyse(sources)
    joined = join_cells(list(sources.items()))
    fixed = notebook.with_sources(sources) if sources != notebook.sources else None
    diff = _notebook_diff(path, notebook.sources, sources)
    report = _report(path, result, joined.text, joined, docs_url=config.docs_url)
    warnings = _noqa_warnings(path, joined.text, joined)
    return FileOutcome(report, fixed, diff, tuple(result.notices), warnings, first.fixed(result))


class _Recording:
    """An analysis callback that keeps its first result, to count what fixing removed."""

    def __init__(self, analyse) -> None:
        self._analyse = analyse
        self.first: AnalysisResult | None = None

    def __call__(self, document) -> AnalysisResult:
        result = self._analyse(document)
        if self.first is None:
            self.first = result
        return result

    def fixed(self, final: AnalysisResult) -> dict[str, int]:
        if self.first is None or self.first is final:
            return {}
        before = Counter(f.code for f in self.first.findings)
        before.subtract(Counter(f.code for f in final.findings))
        return {code: n for code, n in before.items() if n > 0}


def _report(
    path: str,
    result: AnalysisResult,
    text: str,
    notebook: JoinedCells | None = None,
    *,
    docs_url: str | None = None,
) -> FileReport:
    if result.parse_error:
        error = result.parse_error
        cell, line, column = None, error.position.line, error.position.column
        if notebook is not None and (found := notebook.cell_at_line(line)) is not None:
            cell, line = found.key, line - found.first_line
        where = f"cell {cell}:" if cell else ""
        message = f"{path}:{where}{line + 1}:{column + 1}: {error.message} (file not analysed)"
        return FileReport(path, (), message, line + 1, column + 1)
    lines = text.splitlines()
    shown = {
        f.span.start.line: lines[f.span.start.line]
        for f in result.findings
        if f.span.start.line < len(lines)
    }
    layout = JoinedCells("", notebook.cells) if notebook is not None else None
    return FileReport(
        path,
        tuple(result.findings),
        notebook=layout,
        source_lines=shown,
        docs_url=docs_url,
        skipped=result.skipped,
    )


def _noqa_warnings(path: str, text: str, notebook: JoinedCells | None = None) -> tuple[str, ...]:
    """``path:line: message`` for each malformed or unknown noqa directive."""
    if "noqa" not in text.lower():
        return ()
    warnings = []
    for line, message in noqa_problems(text, known_codes()):
        cell = notebook.cell_at_line(line) if notebook is not None else None
        where = f"cell {cell.key}:{line - cell.first_line + 1}" if cell else str(line + 1)
        warnings.append(f"{path}:{where}: {message}")
    return tuple(warnings)


def unified_diff(path: str, before: str, after: str) -> str:
    import difflib  # imported when needed: start-up time counts on every run

    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"a/{path}",
            tofile=f"b/{path}",
        )
    )


def _notebook_diff(path: str, before: dict[str, str], after: dict[str, str]) -> str:
    """A diff per changed code cell (ruff's form), not of the JSON."""
    return "".join(
        unified_diff(f"{path}:cell {key}", _with_newline(before[key]), _with_newline(after[key]))
        for key in before
        if before[key] != after[key]
    )


def _with_newline(text: str) -> str:
    return text if text.endswith("\n") or not text else text + "\n"


def check_file(path: Path, options: CheckOptions, data: bytes | None = None) -> FileOutcome:
    """Check the file at ``path`` (whose bytes are ``data`` when already read)."""
    try:
        source = files.read(path) if data is None else files.decode(data, str(path))
    except files.UnreadableFile as error:
        return FileOutcome(FileReport(str(path), (), str(error)))
    config = config_for_file(path, options)
    outcome = check_text(source.text, str(path), config, options)
    if outcome.fixed_text is not None and options.fix and not options.diff:
        files.write(path, files.SourceText(outcome.fixed_text, source.encoding))
    return outcome
