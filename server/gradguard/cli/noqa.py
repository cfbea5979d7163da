"""``--add-noqa``: baseline a codebase by silencing every current finding on its line."""

from __future__ import annotations

import sys
from pathlib import Path

from gradguard import files
from gradguard.cli.analyse import CheckOptions, check_text, config_for_file
from gradguard.findings import Position, Span, TextEdit
from gradguard.noqa import noqa_additions
from gradguard.notebook import NOTEBOOK_SUFFIX, apply_placeable, parse_notebook
from gradguard.output import FileReport
from gradguard.source import apply_edits


def add_noqa(targets: list[Path], options: CheckOptions, *, quiet: bool = False) -> int:
    """Append ``# noqa: GGxxx`` to every line with a finding (ruff's --add-noqa); exit 0, or
    2 when GradGuard failed on a file."""
    added, failed = 0, False
    for path in targets:
        try:
            source = files.read(path)
        except files.UnreadableFile as error:
            print(f"gradguard: {error}", file=sys.stderr)
            continue
        config = config_for_file(path, options)
        try:
            outcome = check_text(source.text, str(path), config, CheckOptions(**_no_fix(options)))
        except Exception as error:  # one file's failure never ends the run
            print(f"gradguard: {path}: internal error: {error!r} (file skipped)", file=sys.stderr)
            failed = True
            continue
        report = outcome.report
        if not report.findings:
            continue
        program = _program_text(source.text, str(path))
        additions = noqa_additions(program, list(report.findings))
        edits = [
            TextEdit(Span(Position(line, column), Position(line, column)), text)
            for line, (column, text) in additions.items()
        ]
        new_text = _apply(source.text, str(path), edits, report)
        if new_text is not None and new_text != source.text:
            files.write(path, files.SourceText(new_text, source.encoding))
            added += len(edits)
    if not quiet:
        print(f"Added {added} noqa directive{'s' if added != 1 else ''}.", file=sys.stderr)
    return 2 if failed else 0


def _program_text(text: str, path: str) -> str:
    return parse_notebook(text).joined().text if path.endswith(NOTEBOOK_SUFFIX) else text


def _no_fix(options: CheckOptions) -> dict:
    values = {name: getattr(options, name) for name in options.__dataclass_fields__}
    values.update(fix=False, diff=False)
    return values


def _apply(text: str, path: str, edits: list[TextEdit], report: FileReport) -> str | None:
    if not path.endswith(NOTEBOOK_SUFFIX):
        return apply_edits(text, edits)
    notebook = parse_notebook(text)
    if report.notebook is None:
        return None
    # One group per edit: one on a masked line is skipped, not the rest.
    sources = apply_placeable(report.notebook, notebook.sources, [[edit] for edit in edits])
    return notebook.with_sources(sources)
