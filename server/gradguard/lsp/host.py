"""The LSP side of the server: pygls' server and protocol, and the client facts
the handlers and the workspace (its *host*) need."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, default_converter
from pygls.protocol.language_server import lsp_method

from gradguard import __version__
from gradguard.config import CONFIG_FILE_NAMES
from gradguard.lsp import convert
from gradguard.lsp.workspace import Workspace

log = logging.getLogger("gradguard.lsp")

NAME = "gradguard"


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
    message, and applying it would put old text (and its diagnostics) over new; and
    that the ``initialize`` request :mod:`gradguard.lsp.early` answered is not answered
    again (pygls still handles it: workspace, client capabilities, our handler)."""

    #: The id of the ``initialize`` request gradguard.lsp.early answered, and its result.
    answered_early: tuple[int | str, dict[str, Any]] | None = None

    def _send_data(self, data: Any) -> None:
        if self.answered_early is None or _response_id(data) != self.answered_early[0]:
            super()._send_data(data)
            return
        sent, self.answered_early = self.answered_early[1], None
        error = data.get("error") if isinstance(data, dict) else getattr(data, "error", None)
        if error is not None:  # the client was told it worked: the session cannot go on
            log.error("initialize failed after it was answered: %s; stopping", error)
            self._server.shutdown()
            return
        own = self._converter.unstructure(data.result)
        if own != sent:  # tests/robustness/test_early_initialize.py keeps them equal
            log.warning("the early initialize answer %s differs from pygls' %s", sent, own)

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


def _response_id(data: Any) -> Any:
    """The id of an outgoing response (None for requests and notifications)."""
    if isinstance(data, dict):
        return None if "method" in data else data.get("id")
    return None if hasattr(data, "method") else getattr(data, "id", None)


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
    `~gradguard.lsp.workspace.Workspace`)."""

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

    def read_capabilities(self, caps: types.ClientCapabilities) -> None:
        self.pull_mode = capability(caps, "text_document.diagnostic") is not None
        self.document_changes = bool(capability(caps, "workspace.workspace_edit.document_changes"))
        # A client that resolves edits gets fix-all without its (large) edit; the edit is
        # computed when the user picks the action (``codeAction/resolve``), like ruff.
        resolvable = capability(caps, "text_document.code_action.resolve_support.properties")
        if "edit" in (resolvable or []):
            self.fix_all_by = "resolve"
        elif capability(caps, "workspace.apply_edit"):
            self.fix_all_by = "command"  # the edit is sent when the action is run
        self.supports_configuration = bool(capability(caps, "workspace.configuration"))
        self.supports_refresh = bool(capability(caps, "workspace.diagnostics.refresh_support"))
        self.watch_dynamic = bool(
            capability(caps, "workspace.did_change_watched_files.dynamic_registration")
        )

    # -- host interface used by workspace.Workspace -------------------------------------

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
        if self.state.config.window_settings().shows(_NOTIFICATION_KIND.get(kind, "info")):
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


def capability(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if obj is None:
            return None
        obj = getattr(obj, part, None)
    return obj
