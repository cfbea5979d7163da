"""``gradguard server``: the language server (nothing of the batch check is imported)."""

from __future__ import annotations

import argparse


def run_server(args: argparse.Namespace) -> int:
    if args.tcp:
        from gradguard.lsp.server import run

        run(tcp=args.tcp)
    else:  # initialize is answered before pygls and lsprotocol are imported
        from gradguard.lsp.early import serve_stdio

        serve_stdio()
    return 0
