"""Code actions: quick fixes, ``Disable GGxxx for this line`` and fix-all.

Actions are built from ``Diagnostic.data`` (the fixes the engine attached) and
the cached snapshot of the same document version; the analysis is never run
here. Every edit is a versioned ``TextDocumentEdit``, so a client whose
document moved on refuses it instead of applying it to the wrong text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from lsprotocol import types

from gradguard.findings import DisjointSpans, Finding, Fix, Position, Span, TextEdit
from gradguard.lsp import convert
from gradguard.lsp.snapshot import Snapshot
from gradguard.noqa import noqa_codes_at
from gradguard.notebook import without_final_line_break

QUICKFIX = types.CodeActionKind.QuickFix.value
FIX_ALL = "source.fixAll.gradguard"
FIX_ALL_TITLE = "GradGuard: Fix all safe problems"
# VS Code's notebook.codeActionsOnSave asks for this kind (one request for the whole
# notebook); the edit spans every code cell, like ruff's notebook.source.fixAll.ruff.
NOTEBOOK_FIX_ALL = "notebook.source.fixAll.gradguard"
#: The command a client without ``codeAction/resolve`` runs to apply fix-all: the
#: server computes the edit then and sends it with ``workspace/applyEdit``.
FIX_ALL_COMMAND = "gradguard.applyFixAll"
_BARE_NOQA = re.compile(r"#\s*noqa\b(?!\s*:)", re.IGNORECASE)


def fix_title(code: str, fix: Fix) -> str:
    # Menus show titles as plain text: drop the Markdown backticks of fix titles.
    return f"GradGuard ({code}): {fix.title.replace('`', '')}"


def workspace_edit(
    snapshot: Snapshot, edits: Sequence[TextEdit], *, document_changes: bool = True
) -> types.WorkspaceEdit | None:
    """The edits (program coordinates) as a versioned workspace edit; None if one
    cannot be placed (for example an edit spanning two notebook cells)."""
    per_view: dict[str, list[types.TextEdit]] = {}
    versions: dict[str, int | None] = {}
    for edit in edits:
        located = snapshot.locate(edit.span, editable=True)
        if located is None:
            return None
        view, local = located
        lines = snapshot.line_map(view)
        new_text = edit.new_text
        if local.end.line - local.start.line < edit.span.end.line - edit.span.start.line:
            # The edit replaced the program's line break after a notebook cell, which
            # the cell's last line does not have: adding it would grow the cell.
            new_text = without_final_line_break(new_text)
        per_view.setdefault(view.uri, []).append(
            types.TextEdit(range=lines.range_to_lsp(local), new_text=new_text)
        )
        versions[view.uri] = view.version
    if not per_view:
        return None
    if not document_changes:
        return types.WorkspaceEdit(changes=per_view)
    return types.WorkspaceEdit(
        document_changes=[
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(
                    uri=uri, version=versions[uri]
                ),
                edits=list(text_edits),
            )
            for uri, text_edits in per_view.items()
        ]
    )


def noqa_edit(snapshot: Snapshot, line: int, code: str) -> TextEdit | None:
    """Add ``# noqa: CODE`` to a program line, or extend the noqa comment there."""
    text = snapshot.source_line(line)
    if text.rstrip().endswith("\\"):
        return None  # a comment would break the line continuation
    # Only the comments of this line that mention noqa (no whole-file tokenizing).
    for comment in snapshot.noqa_comments_on(line):
        codes = noqa_codes_at(comment.text)
        if codes:
            if code in {c for _, _, c in codes}:
                return None
            end = comment.column + codes[-1][1]
            return TextEdit(Span(Position(line, end), Position(line, end)), f", {code}")
        if _BARE_NOQA.search(comment.text):
            return None  # a bare noqa already silences every code
    end = len(text.rstrip())
    if end == 0:
        return None
    return TextEdit(Span(Position(line, end), Position(line, len(text))), f"  # noqa: {code}")


def quick_fixes(
    snapshot: Snapshot,
    uri: str,
    diagnostics: Sequence[types.Diagnostic],
    *,
    disable_comment: bool,
    document_changes: bool,
) -> list[types.CodeAction]:
    view = snapshot.views.get(uri)
    if view is None:
        return []
    actions: list[types.CodeAction] = []
    noqa_lines: set[tuple[int, str]] = set()
    for diagnostic in diagnostics:
        if diagnostic.source != convert.SOURCE or not isinstance(diagnostic.code, str):
            continue
        version, fixes = convert.fixes_from_data(diagnostic.data)
        if version is not None and version != view.version:
            continue  # made for another version of the document: never misapply it
        code = diagnostic.code
        preferred_given = False
        for fix in fixes:
            edit = workspace_edit(snapshot, fix.edits, document_changes=document_changes)
            if edit is None:
                continue
            preferred = fix.is_safe and not preferred_given
            preferred_given = preferred_given or preferred
            actions.append(
                types.CodeAction(
                    title=fix_title(code, fix),
                    kind=QUICKFIX,
                    diagnostics=[diagnostic],
                    edit=edit,
                    is_preferred=preferred or None,
                )
            )
        if disable_comment:
            line = _program_line(snapshot, uri, diagnostic)
            if line is None or (line, code) in noqa_lines:
                continue
            noqa_lines.add((line, code))
            text_edit = noqa_edit(snapshot, line, code)
            edit = (
                workspace_edit(snapshot, [text_edit], document_changes=document_changes)
                if text_edit
                else None
            )
            if edit is not None:
                actions.append(
                    types.CodeAction(
                        title=f"Disable {code} for this line",
                        kind=QUICKFIX,
                        diagnostics=[diagnostic],
                        edit=edit,
                    )
                )
    return actions


def _program_line(snapshot: Snapshot, uri: str, diagnostic: types.Diagnostic) -> int | None:
    data = diagnostic.data
    if isinstance(data, dict) and isinstance(data.get("span"), dict):
        try:
            return Span.from_dict(data["span"]).start.line
        except (KeyError, TypeError, ValueError):
            pass
    position = snapshot.program_position(uri, diagnostic.range.start)
    return position.line if position else None


def fix_all(
    snapshot: Snapshot, uri: str, *, document_changes: bool, notebook: bool = False
) -> types.CodeAction | None:
    """Every safe fix of the document (``notebook``: of every cell of its notebook) at
    once, skipping any that would overlap (computed once per snapshot: every code
    action request offers it)."""
    key = ("fix_all", uri, document_changes, notebook)
    return snapshot.derived.get(
        key,
        lambda: _fix_all(snapshot, uri, document_changes=document_changes, notebook=notebook),
    )


def _fix_all(
    snapshot: Snapshot, uri: str, *, document_changes: bool, notebook: bool
) -> types.CodeAction | None:
    view = snapshot.views.get(uri)
    if view is None:
        return None
    chosen: list[TextEdit] = []
    taken = DisjointSpans()
    findings = snapshot.result.findings if notebook else _findings_in(snapshot, uri)
    for finding in findings:
        for fix in finding.fixes:
            if not fix.is_safe:
                continue
            if any(taken.overlaps(e.span) for e in fix.edits):
                continue
            if any(
                (where := snapshot.locate(e.span, editable=True)) is None
                or (not notebook and where[0].uri != uri)
                for e in fix.edits
            ):
                continue
            chosen.extend(fix.edits)
            for chosen_edit in fix.edits:
                taken.add(chosen_edit.span)
            break  # one fix per finding
    if not chosen:
        return None
    edit = workspace_edit(snapshot, chosen, document_changes=document_changes)
    if edit is None:
        return None
    return types.CodeAction(
        title=FIX_ALL_TITLE, kind=NOTEBOOK_FIX_ALL if notebook else FIX_ALL, edit=edit
    )


def code_actions(
    snapshot: Snapshot,
    uri: str,
    diagnostics: Sequence[types.Diagnostic],
    only: Sequence[str] | None,
    *,
    disable_comment: bool,
    document_changes: bool,
    fix_all_by: str = "edit",
) -> list[types.CodeAction]:
    """The actions for a request; ``only`` is ``context.only`` as plain strings.

    Every bare request (each cursor move in VS Code) offers fix-all, whose edit covers
    the whole file, so it is sent without its edit when the client can get it later:
    ``fix_all_by`` is ``"resolve"`` (``codeAction/resolve`` computes it), ``"command"``
    (running the action's command makes the server send it with
    ``workspace/applyEdit``) or ``"edit"`` (a client that can do neither)."""
    actions: list[types.CodeAction] = []
    if convert.kind_matches(QUICKFIX, only):
        actions += quick_fixes(
            snapshot,
            uri,
            diagnostics,
            disable_comment=disable_comment,
            document_changes=document_changes,
        )
    # A bare request (no ``only``) gets fix-all too, like ruff; ``source`` or
    # ``source.fixAll`` ask for it explicitly (for example on save).
    if convert.kind_matches(FIX_ALL, only):
        if fix_all_by == "resolve":
            everything = unresolved_fix_all(snapshot, uri)
        elif fix_all_by == "command":
            everything = fix_all_command(snapshot, uri)
        else:
            everything = fix_all(snapshot, uri, document_changes=document_changes)
        if everything is not None:
            actions.append(everything)
    # Only when asked for (a bare request in a cell gets the cell's fix-all above).
    if (
        only
        and snapshot.target.notebook is not None
        and convert.kind_matches(NOTEBOOK_FIX_ALL, only)
    ):
        whole = fix_all(snapshot, uri, document_changes=document_changes, notebook=True)
        if whole is not None:
            actions.append(whole)
    return actions


def unresolved_fix_all(snapshot: Snapshot, uri: str) -> types.CodeAction | None:
    """Fix-all without its edit, offered when the document has a safe fix."""
    if not _has_safe_fix(snapshot, uri):
        return None
    return types.CodeAction(title=FIX_ALL_TITLE, kind=FIX_ALL, data={"fixAll": uri})


def fix_all_command(snapshot: Snapshot, uri: str) -> types.CodeAction | None:
    """Fix-all as a command naming the document version it was offered for."""
    if not _has_safe_fix(snapshot, uri):
        return None
    version = snapshot.views[uri].version
    command = types.Command(title=FIX_ALL_TITLE, command=FIX_ALL_COMMAND, arguments=[uri, version])
    return types.CodeAction(title=FIX_ALL_TITLE, kind=FIX_ALL, command=command)


def _has_safe_fix(snapshot: Snapshot, uri: str) -> bool:
    return any(fix.is_safe for finding in _findings_in(snapshot, uri) for fix in finding.fixes)


def _findings_in(snapshot: Snapshot, uri: str) -> Iterator[Finding]:
    """The snapshot's findings reported in the document ``uri`` (a notebook cell's own)."""
    for finding in snapshot.result.findings:
        located = snapshot.locate(finding.span)
        if located is not None and located[0].uri == uri:
            yield finding


def fix_all_uri(action: types.CodeAction) -> str | None:
    """The document of an unresolved fix-all action (None for any other action)."""
    data = action.data
    uri = data.get("fixAll") if isinstance(data, dict) else None
    return uri if action.kind == FIX_ALL and isinstance(uri, str) else None
