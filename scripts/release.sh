#!/usr/bin/env bash
# Build the release artefacts into dist/:
#   dist/gradguard-<version>-py3-none-any.whl   the package (pip/pipx/uv install it offline)
#   dist/gradguard-<version>.tar.gz             the sdist (the wheel is built from it)
#   dist/gradguard-<version>.vsix               the VS Code extension (scripts/package-vsix.sh)
# `--python-only` skips the VSIX (no Node needed). The Python and extension versions must agree.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -x .venv/bin/python ]; then py=.venv/bin/python; else py=${PYTHON:-python3}; fi
version=$("$py" -c "import tomllib; print(tomllib.load(open('pyproject.toml', 'rb'))['project']['version'])")
if [ "${1:-}" != "--python-only" ]; then
  extension=$(node -p "require('./package.json').version")
  [ "$version" = "$extension" ] || { echo "pyproject.toml says $version, package.json $extension" >&2; exit 1; }
fi

mkdir -p dist
rm -f dist/gradguard-*.whl dist/gradguard-*.tar.gz dist/gradguard-*.vsix
# `build` makes the sdist, then the wheel from the unpacked sdist: a file missing from the
# sdist (MANIFEST.in) fails here rather than for whoever installs it.
"$py" -m build --outdir dist . 2>&1 | grep -E "^Successfully built|ERROR|Error" || true
wheel=dist/gradguard-$version-py3-none-any.whl
sdist=dist/gradguard-$version.tar.gz
[ -f "$wheel" ] && [ -f "$sdist" ] || { echo "python -m build did not write $wheel and $sdist" >&2; exit 1; }

if [ "${1:-}" != "--python-only" ]; then
  bash scripts/package-vsix.sh
  mv "gradguard-$version.vsix" "dist/gradguard-$version.vsix"
fi
ls -l dist/gradguard-*
