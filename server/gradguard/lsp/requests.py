"""Handlers of requests: pull diagnostics, code actions, fix-all, hovers. They read
the cached analysis of the current version and translate it."""

from __future__ import annotations

from lsprotocol import types

from gradguard.lsp import actions
from gradguard.lsp.host import GradGuardServer, is_python
from gradguard.lsp.snapshot import Snapshot

# -- features ----------------------------------------------------------------------------------


async def pull_diagnostics(
    ls: GradGuardServer, params: types.DocumentDiagnosticParams
) -> types.DocumentDiagnosticReport:
    uri = params.text_document.uri
    state = ls.state
    document = ls.text_document(uri)
    if document is None or not is_python(uri, document.language_id):
        return types.RelatedFullDocumentDiagnosticReport(items=[])
    key = state.target_of(uri)
    snapshot = None
    if state.settings_for(key).run == "onSave":
        snapshot = state.snapshots.get(key)
    if snapshot is None:
        snapshot = await state.refresh(key, publish=False)
    if snapshot is None:
        return types.RelatedFullDocumentDiagnosticReport(items=[])
    if params.previous_result_id == snapshot.result_id:
        return types.RelatedUnchangedDocumentDiagnosticReport(result_id=snapshot.result_id)
    items = state.converted.diagnostics(snapshot).get(uri, [])
    return types.RelatedFullDocumentDiagnosticReport(items=items, result_id=snapshot.result_id)


def code_action(ls: GradGuardServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    uri = params.text_document.uri
    snapshot = ls.state.cached(uri)
    if snapshot is None:
        return []  # no analysis of this version yet: never guess
    only = [str(getattr(kind, "value", kind)) for kind in params.context.only or []] or None
    return actions.code_actions(
        snapshot,
        uri,
        params.context.diagnostics,
        only,
        disable_comment=snapshot.context.settings.disable_rule_comment,
        document_changes=ls.document_changes,
        fix_all_by=ls.fix_all_by,
    )


def code_action_resolve(ls: GradGuardServer, action: types.CodeAction) -> types.CodeAction:
    """Fill in fix-all's edit for the current analysis of the document (the edit is
    versioned: a client whose document moved on since rejects it)."""
    uri = actions.fix_all_uri(action)
    snapshot = ls.state.cached(uri) if uri else None
    if uri is None or snapshot is None:
        return action
    resolved = actions.fix_all(snapshot, uri, document_changes=ls.document_changes)
    if resolved is not None:
        action.edit = resolved.edit
    return action


async def apply_fix_all(ls: GradGuardServer, uri: str, version: int | None) -> None:
    """Fix-all run as a command: its edit, for the version it was offered for (a
    document changed since gets nothing: the client asks for actions again)."""
    snapshot = ls.state.cached(uri)
    view = snapshot.views.get(uri) if snapshot is not None else None
    if snapshot is None or view is None or view.version != version:
        return
    action = actions.fix_all(snapshot, uri, document_changes=ls.document_changes)
    if action is not None and action.edit is not None:
        await ls.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=action.edit, label=action.title)
        )


async def on_hover(ls: GradGuardServer, params: types.HoverParams) -> types.Hover | None:
    uri = params.text_document.uri
    snapshot = await _current(ls, uri, publish=not ls.pull_mode)
    where = snapshot.program_position(uri, params.position) if snapshot else None
    if snapshot is None or where is None:
        return None
    from gradguard.lsp import hover  # with the first hover: not before initialize

    found = await ls.state.run_in_worker(hover.hover_text, snapshot, where)
    return hover.response(snapshot, uri, *found) if found is not None else None


async def _current(ls: GradGuardServer, uri: str, *, publish: bool) -> Snapshot | None:
    """The analysis of the document's current version: cached, or run now."""
    snapshot = ls.state.cached(uri)
    if snapshot is not None:
        return snapshot
    document = ls.text_document(uri)
    if document is None or not is_python(uri, document.language_id):
        return None
    snapshot = await ls.state.refresh(ls.state.target_of(uri), publish=publish)
    return snapshot if snapshot is not None and ls.state.is_current(snapshot) else None
