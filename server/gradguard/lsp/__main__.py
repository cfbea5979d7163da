"""``python -m gradguard.lsp [--tcp HOST:PORT]``: the language server alone."""

import os
import sys

# As in gradguard/__main__.py: import no more modules from the workspace folder (what
# runpy imported before this line is beyond reach: run it as ``python -P -m``).
if sys.path and not sys.flags.safe_path:
    first = sys.path[0]
    if first == "" or os.path.realpath(first) == os.path.realpath(os.getcwd()):
        del sys.path[0]

import argparse

parser = argparse.ArgumentParser(prog="python -m gradguard.lsp")
parser.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
tcp = parser.parse_args(sys.argv[1:]).tcp
if tcp:
    from gradguard.lsp.server import run

    run(tcp)
else:  # initialize is answered before pygls and lsprotocol are imported
    from gradguard.lsp.early import serve_stdio

    serve_stdio()
