"""The GradGuard language server: pygls setup and handlers that only translate.

State and scheduling live in :mod:`gradguard.lsp.documents`, code actions in
:mod:`gradguard.lsp.actions`, hovers in :mod:`gradguard.lsp.hover`, settings in
:mod:`gradguard.lsp.settings`, notebooks in :mod:`gradguard.lsp.notebooks`. The
engine knows nothing of LSP.

``run(tcp)`` is what ``gradguard server`` calls. Over stdio the protocol gets a
private copy of file descriptor 1 and everything else that would write to
stdout (``print``, subprocesses, C extensions) is sent to stderr instead.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, default_converter
from pygls.protocol.language_server import lsp_method

from gradguard import __version__, gctuning
from gradguard.config import CONFIG_FILE_NAMES
from gradguard.lsp import actions, convert, framing, hover
from gradguard.lsp.documents import Workspace
from gradguard.lsp.settings import SECTION, Settings, apply_log_level, parse_settings, unwrap

log = logging.getLogger("gradguard.lsp")

NAME = "gradguard"
PYPROJECT_GLOB = "**/{pyproject.toml,gradguard.toml,.gradguard.toml}"


def _converter() -> Any:
    """pygls' converter, except that a plain ``dict`` in an ``LSPAny`` field (a
    diagnostic's ``data``: its fixes) goes to ``json.dumps`` as it is instead of being
    copied key by key: half of the time of publishing 200 diagnostics. ``json.dumps``
    still hands any typed object inside to pygls' serializer."""
    converter = default_converter()
    converter.register_unstructure_hook(dict, lambda data: data)
    return converter


class GradGuardProtocol(LanguageServerProtocol):
    """pygls' protocol, except that a change that is not newer than the document is
    refused: LSP versions only increase, so an older one is a reordered or replayed
    message, and applying it would put old text (and its diagnostics) over new."""

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Any:
        document = self.workspace.text_documents.get(unquote(params.text_document.uri))
        if document is not None and _not_newer(params.text_document.version, document.version):
            _refuse("document", params.text_document.uri, params.text_document.version, document)
            return
        yield from super().lsp_text_document__did_change(params)

    @lsp_method(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def lsp_notebook_document__did_change(
        self, params: types.DidChangeNotebookDocumentParams
    ) -> Any:
        notebook = self.workspace.get_notebook_document(notebook_uri=params.notebook_document.uri)
        if notebook is not None and _not_newer(params.notebook_document.version, notebook.version):
            _refuse(
                "notebook", params.notebook_document.uri, params.notebook_document.version, notebook
            )
            return
        yield from super().lsp_notebook_document__did_change(params)


def _not_newer(version: int | None, current: int | None) -> bool:
    return version is not None and current is not None and version <= current


def _refuse(kind: str, uri: str, version: int, current: Any) -> None:
    log.warning(
        "ignored a change of %s %s to version %s: it already has version %s",
        kind,
        uri,
        version,
        current.version,
    )


class GradGuardServer(LanguageServer):
    """pygls' server plus the client facts the handlers need (the *host* of
    :class:`~gradguard.lsp.documents.Workspace`)."""

    def __init__(self) -> None:
        super().__init__(
            NAME,
            __version__,
            converter_factory=_converter,
            protocol_cls=GradGuardProtocol,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            notebook_document_sync=types.NotebookDocumentSyncOptions(
                notebook_selector=[
                    types.NotebookDocumentFilterWithCells(
                        notebook="*", cells=[types.NotebookCellLanguage(language="python")]
                    )
                ],
                save=True,
            ),
        )
        self.state = Workspace(self)
        self.pull_mode = False
        self.document_changes = True
        self.fix_all_by = "edit"  # how fix-all reaches the client (actions.code_actions)
        self.supports_configuration = False
        self.supports_refresh = False
        self.watch_dynamic = False

    # -- host interface used by documents.Workspace -------------------------------------

    def workspace_folders(self) -> list[types.WorkspaceFolder]:
        return list(self.workspace.folders.values())

    def root_path(self) -> str | None:
        return self.workspace.root_path

    def position_encoding(self) -> str:
        return convert.encoding_name(self.workspace.position_encoding)

    def text_document(self, uri: str) -> Any:
        return self.workspace.text_documents.get(unquote(uri))

    def text_document_uris(self) -> list[str]:
        return [
            document.uri
            for document in self.workspace.text_documents.values()
            if is_python(document.uri, document.language_id)
        ]

    def notebook(self, uri: str) -> types.NotebookDocument | None:
        return self.workspace.get_notebook_document(notebook_uri=uri)

    def notebook_of_cell(self, uri: str) -> types.NotebookDocument | None:
        return self.workspace.get_notebook_document(cell_uri=uri)

    def publish(self, uri: str, version: int | None, diagnostics: list[types.Diagnostic]) -> None:
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, version=version, diagnostics=diagnostics)
        )

    def log_message(self, message: str, kind: types.MessageType = types.MessageType.Log) -> None:
        self.window_log_message(types.LogMessageParams(type=kind, message=message))

    def show_message(self, message: str, kind: types.MessageType) -> None:
        # gradguard.showNotifications of the window (the first folder's when there are several)
        if self.state.window_settings().shows(_NOTIFICATION_KIND.get(kind, "info")):
            self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def request_diagnostic_refresh(self) -> None:
        if self.supports_refresh:
            self.workspace_diagnostic_refresh(None)


_NOTIFICATION_KIND = {types.MessageType.Error: "error", types.MessageType.Warning: "warning"}


def is_config_file(uri: str) -> bool:
    return uri.rsplit("/", 1)[-1] in ("pyproject.toml", *CONFIG_FILE_NAMES)


def is_python(uri: str, language_id: str | None) -> bool:
    if language_id:
        return language_id == "python"
    return uri.endswith((".py", ".pyi"))


server = GradGuardServer()


def _capability(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if obj is None:
            return None
        obj = getattr(obj, part, None)
    return obj


# -- lifecycle -------------------------------------------------------------------------


@server.feature(types.INITIALIZE)
def initialize(ls: GradGuardServer, params: types.InitializeParams) -> None:
    caps = params.capabilities
    ls.pull_mode = _capability(caps, "text_document.diagnostic") is not None
    ls.document_changes = bool(_capability(caps, "workspace.workspace_edit.document_changes"))
    # A client that resolves edits gets fix-all without its (large) edit; the edit is
    # computed when the user picks the action (``codeAction/resolve``), like ruff.
    resolvable = _capability(caps, "text_document.code_action.resolve_support.properties")
    if "edit" in (resolvable or []):
        ls.fix_all_by = "resolve"
    elif _capability(caps, "workspace.apply_edit"):
        ls.fix_all_by = "command"  # the edit is sent when the action is run
    ls.supports_configuration = bool(_capability(caps, "workspace.configuration"))
    ls.supports_refresh = bool(_capability(caps, "workspace.diagnostics.refresh_support"))
    ls.watch_dynamic = bool(
        _capability(caps, "workspace.did_change_watched_files.dynamic_registration")
    )
    ls.state.init_settings = parse_settings(
        unwrap(params.initialization_options), origin="initializationOptions"
    )
    ls.state.loop = asyncio.get_running_loop()
    if not ls.supports_configuration:
        ls.state.settings_ready.set()


@server.feature(types.INITIALIZED)
async def initialized(ls: GradGuardServer, params: types.InitializedParams) -> None:
    for line in startup_lines():
        ls.log_message(line, types.MessageType.Info)
    ls.log_message(
        f"diagnostics: {'pull' if ls.pull_mode else 'push'}; position encoding: "
        f"{ls.position_encoding()}",
        types.MessageType.Info,
    )
    # Settings first: analyses wait for them (settings_ready).
    await fetch_settings(ls)
    log_effective_settings(ls)
    if ls.watch_dynamic:
        try:
            await asyncio.wait_for(
                ls.client_register_capability_async(
                    types.RegistrationParams(
                        registrations=[
                            types.Registration(
                                id="gradguard-pyproject-watcher",
                                method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                                register_options=types.DidChangeWatchedFilesRegistrationOptions(
                                    watchers=[types.FileSystemWatcher(glob_pattern=PYPROJECT_GLOB)]
                                ),
                            )
                        ]
                    )
                ),
                10,
            )
        except Exception as error:
            log.warning("could not register the pyproject.toml watcher: %s", error)


@server.feature(types.SHUTDOWN)
def shutdown(ls: GradGuardServer, params: Any) -> None:
    ls.state.shutdown()


# -- settings ----------------------------------------------------------------------------


async def fetch_settings(ls: GradGuardServer) -> None:
    """Ask for the ``gradguard`` section once per workspace folder."""
    state = ls.state
    try:
        if ls.supports_configuration:
            folders = state.folders()
            items = [
                types.ConfigurationItem(scope_uri=folder, section=SECTION) for folder in folders
            ] or [types.ConfigurationItem(section=SECTION)]
            try:
                values = await asyncio.wait_for(
                    ls.workspace_configuration_async(types.ConfigurationParams(items=items)), 10
                )
            except Exception as error:
                log.warning("workspace/configuration failed: %s", error)
                values = []
            fresh: dict[str, Settings] = {}
            for folder, value in zip(folders or [""], values or [], strict=False):
                fresh[folder] = parse_settings(
                    unwrap(value) if value is not None else None,
                    base=state.init_settings,
                    origin=f"workspace/configuration ({folder or 'global'})",
                )
            state.folder_settings = fresh
        problems = list(state.init_settings.errors)
        for settings in state.folder_settings.values():
            problems += list(settings.errors)
        if problems:
            state.report_problems(problems)
    finally:
        state.settings_ready.set()


def log_effective_settings(ls: GradGuardServer) -> None:
    state = ls.state
    apply_log_level(state.window_settings())
    entries = state.folder_settings or {"": state.init_settings}
    for folder, settings in entries.items():
        line = f"effective settings ({folder or 'global'}): {settings.describe()}"
        log.info("%s", line)
        ls.log_message(line, types.MessageType.Info)


@server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
async def did_change_configuration(
    ls: GradGuardServer, params: types.DidChangeConfigurationParams
) -> None:
    if ls.supports_configuration:
        await fetch_settings(ls)
    else:
        settings = parse_settings(
            unwrap(params.settings), base=ls.state.init_settings, origin="didChangeConfiguration"
        )
        ls.state.folder_settings = {"": settings}
        if settings.errors:
            ls.state.report_problems(list(settings.errors))
    log_effective_settings(ls)
    ls.state.settings_changed()


@server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
def did_change_watched_files(
    ls: GradGuardServer, params: types.DidChangeWatchedFilesParams
) -> None:
    if any(is_config_file(change.uri) for change in params.changes):
        ls.state.forget_pyprojects()
        ls.state.settings_changed()


@server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
async def did_change_folders(
    ls: GradGuardServer, params: types.DidChangeWorkspaceFoldersParams
) -> None:
    await fetch_settings(ls)
    ls.state.settings_changed()


# -- text documents ----------------------------------------------------------------------


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: GradGuardServer, params: types.DidOpenTextDocumentParams) -> None:
    document = params.text_document
    if is_python(document.uri, document.language_id) and not ls.pull_mode:
        ls.state.schedule(ls.state.target_of(document.uri), 0)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
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


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
async def did_save(ls: GradGuardServer, params: types.DidSaveTextDocumentParams) -> None:
    uri = params.text_document.uri
    if is_config_file(uri):  # also for clients that do not watch files
        ls.state.forget_pyprojects()
        ls.state.settings_changed()
        return
    document = ls.text_document(uri)
    if document is None or not is_python(uri, document.language_id):
        return
    await _analyse_after_save(ls, ls.state.target_of(uri))


async def _analyse_after_save(ls: GradGuardServer, key: str) -> None:
    if ls.pull_mode:
        if ls.state.settings_for(key).run == "onSave":
            await ls.state.refresh(key, publish=False)
            ls.request_diagnostic_refresh()
    else:
        ls.state.schedule(key, 0)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: GradGuardServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.state.closed(params.text_document.uri)


# -- notebooks -------------------------------------------------------------------------------


@server.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
def notebook_did_open(ls: GradGuardServer, params: types.DidOpenNotebookDocumentParams) -> None:
    if not ls.pull_mode:
        ls.state.schedule(params.notebook_document.uri, 0)


@server.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
def notebook_did_change(ls: GradGuardServer, params: types.DidChangeNotebookDocumentParams) -> None:
    key = params.notebook_document.uri
    cells = params.change.cells
    structure = cells.structure if cells is not None else None
    if structure is not None and structure.did_close:
        ls.state.cells_removed(key, [cell.uri for cell in structure.did_close])
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


@server.feature(types.NOTEBOOK_DOCUMENT_DID_SAVE)
async def notebook_did_save(
    ls: GradGuardServer, params: types.DidSaveNotebookDocumentParams
) -> None:
    await _analyse_after_save(ls, params.notebook_document.uri)


@server.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
def notebook_did_close(ls: GradGuardServer, params: types.DidCloseNotebookDocumentParams) -> None:
    key = params.notebook_document.uri
    ls.state.cells_removed(key, [cell.uri for cell in params.cell_text_documents])
    ls.state.closed(key)


# -- features ----------------------------------------------------------------------------------


@server.feature(
    types.TEXT_DOCUMENT_DIAGNOSTIC,
    types.DiagnosticOptions(
        identifier=NAME, inter_file_dependencies=False, workspace_diagnostics=False
    ),
)
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
    items = snapshot.diagnostics().get(uri, [])
    return types.RelatedFullDocumentDiagnosticReport(items=items, result_id=snapshot.result_id)


@server.feature(
    types.TEXT_DOCUMENT_CODE_ACTION,
    types.CodeActionOptions(
        code_action_kinds=[
            types.CodeActionKind.QuickFix,
            actions.FIX_ALL,
            actions.NOTEBOOK_FIX_ALL,
        ],
        resolve_provider=True,
    ),
)
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
        disable_comment=snapshot.settings.disable_rule_comment,
        document_changes=ls.document_changes,
        fix_all_by=ls.fix_all_by,
    )


@server.feature(types.CODE_ACTION_RESOLVE)
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


@server.command(actions.FIX_ALL_COMMAND)
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


@server.feature(types.TEXT_DOCUMENT_HOVER)
async def on_hover(ls: GradGuardServer, params: types.HoverParams) -> types.Hover | None:
    uri = params.text_document.uri
    state = ls.state
    snapshot = state.cached(uri)
    if snapshot is None:
        document = ls.text_document(uri)
        if document is None or not is_python(uri, document.language_id):
            return None
        snapshot = await state.refresh(state.target_of(uri), publish=not ls.pull_mode)
        if snapshot is None or not state.is_current(snapshot):
            return None
    where = snapshot.program_position(uri, params.position)
    if where is None:
        return None
    found = await state.run_in_worker(_hover_text, snapshot, where)
    if found is None:
        return None
    text, span = found
    located = snapshot.locate(span)
    if located is None or located[0].uri != uri:
        return types.Hover(contents=hover.markup(text))
    view, local = located
    return types.Hover(
        contents=hover.markup(text), range=snapshot.line_map(view).range_to_lsp(local)
    )


def _hover_text(snapshot: Any, where: Any) -> tuple[str, Any] | None:
    """Runs on a worker thread: noqa code, then findings, then variables."""
    code = hover.noqa_code_at(snapshot, where)
    if code is not None:
        return hover.noqa_markdown(code[0]), code[1]
    findings = [f for f in snapshot.result.findings if f.span.contains(where)]
    if findings:
        text = "\n\n---\n\n".join(hover.finding_markdown(f) for f in findings)
        return text, findings[0].span
    return hover.symbol_hover(snapshot, where)


# -- start -------------------------------------------------------------------------------------


def startup_lines() -> list[str]:
    import jedi
    import lsprotocol
    import pygls

    def version_of(module: Any, dist: str) -> str:
        try:
            from importlib.metadata import version

            return version(dist)
        except Exception:
            return str(getattr(module, "__version__", "unknown"))

    return [
        f"GradGuard {__version__} language server",
        f"python: {sys.executable} ({sys.version.split()[0]})",
        f"pygls {version_of(pygls, 'pygls')}, lsprotocol {version_of(lsprotocol, 'lsprotocol')}, "
        f"jedi {version_of(jedi, 'jedi')}",
    ]


def configure_logging() -> None:
    level = os.environ.get("GRADGUARD_LOG_LEVEL", "INFO").upper()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("gradguard").setLevel(getattr(logging, level, logging.INFO))


def _protocol_stdout() -> Any:
    """A private handle on fd 1 for the protocol; fd 1 itself now points at stderr."""
    sys.stdout.flush()
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(protocol_fd, "wb", buffering=0)


def run(tcp: str | None = None) -> None:
    """Serve LSP over stdio (or on ``HOST:PORT``) until ``exit`` or end of input."""
    configure_logging()
    gctuning.tune_for_analysis()  # every keystroke's tree is freed by refcounting
    for line in startup_lines():
        log.info("%s", line)
    log.info("default settings: %s", Settings().describe())
    try:
        if tcp:
            host, _, port = tcp.rpartition(":")
            server.start_tcp(host or "127.0.0.1", int(port))
        else:
            stdout = _protocol_stdout()
            # pygls' loop, with framing that resynchronises and the answers it omits.
            framing.start_io(server, sys.stdin.buffer, stdout)
    finally:
        # LSP: exit code 0 only after a ``shutdown`` request (also when input closes).
        code = 0 if getattr(server.protocol, "_shutdown", False) else 1
        server.state.shutdown()
        log.info("GradGuard language server stopped (exit code %d)", code)
        logging.shutdown()
        sys.stderr.flush()
    # Worker threads (jedi, analysis) must not keep the process alive once the
    # client has gone: leave now.
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="gradguard server")
    parser.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
    args = parser.parse_args(argv)
    run(args.tcp)
    return 0


__all__ = ["GradGuardServer", "main", "run", "server"]
