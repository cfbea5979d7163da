#!/usr/bin/env bash
# Fill bundled/libs with the GradGuard server and its pure-Python dependencies, for the
# VS Code extension's importStrategy "useBundled" (PYTHONPATH=bundled/libs).
# The pins are in scripts/bundled-requirements.txt; only universal (py3-none-any) wheels
# are accepted, so the folder works with any CPython 3.10+ on any platform.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -x .venv/bin/python ]; then py=.venv/bin/python; else py=${PYTHON:-python3}; fi
target=bundled/libs
rm -rf "$target"
mkdir -p "$target"
pip_flags=(--quiet --disable-pip-version-check --no-deps --no-compile --target "$target")
"$py" -m pip install "${pip_flags[@]}" --only-binary=:all: --platform any --implementation py \
  --python-version 3.10 -r scripts/bundled-requirements.txt 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
# GradGuard itself, from this checkout (built as a wheel, so it carries its dist-info).
"$py" -m pip install "${pip_flags[@]}" . 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
# Console scripts and caches are of no use inside the extension.
rm -rf "$target/bin"
# jedi ships typeshed stubs for ~400 third-party libraries (requests, Flask, ...) and Django:
# 4,800 files that GradGuard does not need (it resolves torch and the user's own code from
# their sources; the standard-library stubs stay). jedi skips missing stub folders.
rm -rf "$target/jedi/third_party/typeshed/stubs" "$target/jedi/third_party/django-stubs"
find "$target" -name __pycache__ -type d -prune -exec rm -rf {} +
echo "bundled/libs: $(ls "$target" | grep -v dist-info | tr '\n' ' ')"
