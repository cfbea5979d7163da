"""``gradguard server``: the language server (nothing of the batch check is imported)."""

from __future__ import annotations

import argparse


def run_server(args: argparse.Namespace) -> int:
    from gradguard.lsp.server import run

    run(tcp=args.tcp)
    return 0
