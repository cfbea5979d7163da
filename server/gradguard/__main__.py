"""``python -m gradguard``.

``python -m`` puts the current directory first on ``sys.path``, and editors start
the language server with the workspace folder as the current directory: a
workspace file named like a module GradGuard imports (``argparse.py``,
``jedi.py``, ``pygls.py``) would be imported and run. Drop that entry before
importing anything else. This is less than Python 3.11's ``-P``: ``runpy`` has
already imported ``warnings`` and ``contextlib`` (and found this package) through
that entry, so the documented launch commands are ``gradguard server`` and
``python -P -m gradguard server`` (docs/server.md).
"""

import os
import sys

if sys.path and not sys.flags.safe_path:
    first = sys.path[0]
    if first == "" or os.path.realpath(first) == os.path.realpath(os.getcwd()):
        del sys.path[0]

from gradguard.cli import main

sys.exit(main())
