"""``python -m gradguard.lsp [--tcp HOST:PORT]``: the language server alone."""

import sys

from gradguard.lsp.server import main

sys.exit(main(sys.argv[1:]))
