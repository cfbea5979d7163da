"""Robustness suite: budget from GRADGUARD_FUZZ_BUDGET (default 1 in CI).

With ``GRADGUARD_ROBUSTNESS_COUNTS=path`` the counters every test records (inputs
fuzzed, fixes verified, faults injected) are appended to ``path`` as one JSON line
at the end of the session; ``python -m tests.robustness.report`` reads them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import harness


def pytest_sessionfinish(session, exitstatus):
    target = os.environ.get("GRADGUARD_ROBUSTNESS_COUNTS")
    if target:
        harness.dump_counts(target)
