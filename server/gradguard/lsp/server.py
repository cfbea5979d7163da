"""The GradGuard language server: the table of handlers, and ``run``.

Each handler is a few lines that translate between LSP and the workspace
(:mod:`gradguard.lsp.workspace`): the session in :mod:`~gradguard.lsp.session`,
document sync in :mod:`~gradguard.lsp.sync`, requests in
:mod:`~gradguard.lsp.requests`; the pygls side in :mod:`~gradguard.lsp.host`.
The engine knows nothing of LSP.

``run(tcp)`` is what ``gradguard server`` calls. Over stdio,
:mod:`~gradguard.lsp.early` answers ``initialize`` before this module is imported, then
calls :func:`run_stdio`; the protocol has a private copy of file descriptor 1 and
everything else that would write to stdout (``print``, subprocesses, C extensions) is
sent to stderr instead.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any, BinaryIO

from lsprotocol import types

from gradguard import gctuning
from gradguard.lsp import actions, early, framing, requests, session, sync
from gradguard.lsp.host import NAME, GradGuardProtocol, GradGuardServer
from gradguard.lsp.session import startup_lines
from gradguard.lsp.settings import Settings

log = logging.getLogger("gradguard.lsp")

server = GradGuardServer()

_FEATURES: list[tuple[Any, ...]] = [
    (types.INITIALIZE, session.initialize),
    (types.INITIALIZED, session.initialized),
    (types.SHUTDOWN, session.shutdown),
    (types.WORKSPACE_DID_CHANGE_CONFIGURATION, session.did_change_configuration),
    (types.WORKSPACE_DID_CHANGE_WATCHED_FILES, session.did_change_watched_files),
    (types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS, session.did_change_folders),
    (types.TEXT_DOCUMENT_DID_OPEN, sync.did_open),
    (types.TEXT_DOCUMENT_DID_CHANGE, sync.did_change),
    (types.TEXT_DOCUMENT_DID_SAVE, sync.did_save),
    (types.TEXT_DOCUMENT_DID_CLOSE, sync.did_close),
    (types.NOTEBOOK_DOCUMENT_DID_OPEN, sync.notebook_did_open),
    (types.NOTEBOOK_DOCUMENT_DID_CHANGE, sync.notebook_did_change),
    (types.NOTEBOOK_DOCUMENT_DID_SAVE, sync.notebook_did_save),
    (types.NOTEBOOK_DOCUMENT_DID_CLOSE, sync.notebook_did_close),
    (
        types.TEXT_DOCUMENT_DIAGNOSTIC,
        requests.pull_diagnostics,
        types.DiagnosticOptions(
            identifier=NAME, inter_file_dependencies=False, workspace_diagnostics=False
        ),
    ),
    (
        types.TEXT_DOCUMENT_CODE_ACTION,
        requests.code_action,
        types.CodeActionOptions(
            code_action_kinds=[
                types.CodeActionKind.QuickFix,
                actions.FIX_ALL,
                actions.NOTEBOOK_FIX_ALL,
            ],
            resolve_provider=True,
        ),
    ),
    (types.CODE_ACTION_RESOLVE, requests.code_action_resolve),
    (types.TEXT_DOCUMENT_HOVER, requests.on_hover),
]
for method, handler, *options in _FEATURES:
    server.feature(method, *options)(handler)
server.command(actions.FIX_ALL_COMMAND)(requests.apply_fix_all)


def configure_logging() -> None:
    level = os.environ.get("GRADGUARD_LOG_LEVEL", "INFO").upper()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("gradguard").setLevel(getattr(logging, level, logging.INFO))


def _prepare() -> None:
    configure_logging()
    gctuning.tune_for_analysis()  # every keystroke's tree is freed by refcounting
    for line in startup_lines():
        log.info("%s", line)
    log.info("default settings: %s", Settings().describe())


def run(tcp: str | None = None) -> None:
    """Serve LSP over stdio (or on ``HOST:PORT``) until ``exit`` or end of input."""
    if not tcp:
        early.serve_stdio()  # answers initialize first, then comes back to run_stdio
        return
    _prepare()
    host, _, port = tcp.rpartition(":")
    _serve_until_exit(lambda: server.start_tcp(host or "127.0.0.1", int(port)))


def run_stdio(pump: early.StdinPump, stdout: BinaryIO, start: early.Start) -> None:
    """Serve LSP over stdio, after :func:`gradguard.lsp.early.serve_stdio`: ``start`` holds
    the bytes it read, and the id of the ``initialize`` it answered (if it did)."""
    _prepare()
    protocol: GradGuardProtocol = server.protocol  # type: ignore[assignment]
    protocol.answered_early = start.answered
    # pygls' loop, with framing that resynchronises and the answers it omits.
    _serve_until_exit(lambda: framing.start_io(server, pump, stdout, start.pending))


def _serve_until_exit(serve: Callable[[], None]) -> None:
    try:
        serve()
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
