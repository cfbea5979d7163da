"""Handlers of document and notebook synchronisation: each tells the workspace what
changed and when to analyse."""

from __future__ import annotations

from lsprotocol import types

from gradguard.lsp.host import GradGuardServer, is_config_file, is_python
from gradguard.lsp.targets import uri_to_path

# -- text documents ----------------------------------------------------------------------


def did_open(ls: GradGuardServer, params: types.DidOpenTextDocumentParams) -> None:
    document = params.text_document
    if is_python(document.uri, document.language_id) and not ls.pull_mode:
        ls.state.schedule(ls.state.target_of(document.uri), 0)


def did_change(ls: GradGuardServer, params: types.DidChangeTextDocumentParams) -> None:
    uri = params.text_document.uri
    document = ls.text_document(uri)
    if document is None or not is_python(uri, document.language_id):
        return
    if ls.pull_mode:  # the client asks when it wants diagnostics
        ls.state.changed(ls.state.target_of(uri))
        return
    settings = ls.state.settings_for(uri)
    if settings.run == "onType":
        ls.state.schedule(ls.state.target_of(uri), settings.debounce_ms)


async def did_save(ls: GradGuardServer, params: types.DidSaveTextDocumentParams) -> None:
    uri = params.text_document.uri
    if is_config_file(uri):  # also for clients that do not watch files
        ls.state.config.forget_pyprojects()
        ls.state.settings_changed()
        return
    document = ls.text_document(uri)
    if document is None or not is_python(uri, document.language_id):
        return
    ls.state.answers.file_changed(uri_to_path(uri))  # the files importing it
    await _analyse_after_save(ls, ls.state.target_of(uri))


async def _analyse_after_save(ls: GradGuardServer, key: str) -> None:
    if ls.pull_mode:
        if ls.state.settings_for(key).run == "onSave":
            await ls.state.refresh(key, publish=False)
            ls.request_diagnostic_refresh()
    else:
        ls.state.schedule(key, 0)


def did_close(ls: GradGuardServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.state.closed(params.text_document.uri)


# -- notebooks -------------------------------------------------------------------------------


def notebook_did_open(ls: GradGuardServer, params: types.DidOpenNotebookDocumentParams) -> None:
    if not ls.pull_mode:
        ls.state.schedule(params.notebook_document.uri, 0)


def notebook_did_change(ls: GradGuardServer, params: types.DidChangeNotebookDocumentParams) -> None:
    key = params.notebook_document.uri
    cells = params.change.cells
    structure = cells.structure if cells is not None else None
    if structure is not None and structure.did_close:
        ls.state.publisher.cells_removed(key, [cell.uri for cell in structure.did_close])
    if ls.pull_mode:
        ls.state.changed(key)
        if structure is not None:
            ls.request_diagnostic_refresh()
        return
    settings = ls.state.settings_for(key)
    if structure is not None:
        ls.state.schedule(key, 0)
    elif settings.run == "onType":
        ls.state.schedule(key, settings.debounce_ms)


async def notebook_did_save(
    ls: GradGuardServer, params: types.DidSaveNotebookDocumentParams
) -> None:
    await _analyse_after_save(ls, params.notebook_document.uri)


def notebook_did_close(ls: GradGuardServer, params: types.DidCloseNotebookDocumentParams) -> None:
    key = params.notebook_document.uri
    ls.state.publisher.cells_removed(key, [cell.uri for cell in params.cell_text_documents])
    ls.state.closed(key)
