"""``python -m gradguard.lsp [--tcp HOST:PORT]``: the language server alone."""

import os
import sys

# As in gradguard/__main__.py: import no more modules from the workspace folder (what
# runpy imported before this line is beyond reach: run it as ``python -P -m``).
if sys.path and not sys.flags.safe_path:
    first = sys.path[0]
    if first == "" or os.path.realpath(first) == os.path.realpath(os.getcwd()):
        del sys.path[0]

from gradguard.lsp.server import main

sys.exit(main(sys.argv[1:]))
