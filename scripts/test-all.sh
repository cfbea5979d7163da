#!/usr/bin/env bash
# Install everything and run every check and test: lint, types, unit, LSP
# end-to-end, the VS Code client and the real-editor tests. Exits non-zero on
# any failure. Used as-is by CI (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== Python: install"
bash scripts/setup-python.sh
. .venv/bin/activate

echo "== Python: lint and types"
lint_dirs=""
for dir in server tests benchmarks; do
  if [ -d "$dir" ]; then lint_dirs="$lint_dirs $dir"; fi
done
ruff check $lint_dirs
ruff format --check $lint_dirs
mypy

echo "== Python: rule docs are up to date"
python -m gradguard.docs docs/rules >/dev/null
git diff --exit-code -- docs/rules || { echo "docs/rules is stale: run python -m gradguard.docs docs/rules" >&2; exit 1; }

if [ -f client/package.json ] || [ -f scripts/test-client.sh ]; then
  echo "== VS Code client and real editors"
  bash scripts/test-client.sh
fi

echo "== Release: the wheel and sdist (scripts/release.sh's build) installed in a fresh venv"
GRADGUARD_INSTALL_TESTS=1 python -m pytest -p no:cacheprovider -q tests/test_install.py

echo "== Python: tests"
python -m pytest -p no:cacheprovider -n 2 --dist loadfile
