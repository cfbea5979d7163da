#!/usr/bin/env bash
# Create .venv (once) and install GradGuard with its test and lint tools, plus the
# CPU build of torch 2.13.0 that the facts tests run the documentation against.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
python -m pip install --quiet -e '.[test,lint]' 'torch==2.13.0'
