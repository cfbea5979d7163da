import os
import shutil
import sys
import tempfile
from pathlib import Path

# Make tests/helpers.py importable from every test module.
sys.path.insert(0, str(Path(__file__).parent))


def pytest_configure(config):
    # jedi's answers (gradguard.answers) go to a throwaway directory, not ~/.cache, in this
    # process and in every server and CLI process the tests start.
    os.environ["GRADGUARD_CACHE_DIR"] = tempfile.mkdtemp(prefix="gradguard-test-answers-")


def pytest_unconfigure(config):
    # Each run (and each xdist worker) made its own directory: leave nothing behind in /tmp.
    shutil.rmtree(os.environ.get("GRADGUARD_CACHE_DIR", ""), ignore_errors=True)
