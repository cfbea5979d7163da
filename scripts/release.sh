#!/usr/bin/env bash
# Build the release artefacts into dist/:
#   dist/gradguard-<version>-py3-none-any.whl   the package (pip/pipx/uv install it offline)
#   dist/gradguard-<version>.tar.gz             the sdist (the wheel is built from it)
#   dist/gradguard-<version>.vsix               the VS Code extension (scripts/package-vsix.sh)
#   dist/wheels/                                its dependencies (the pins of
#                                               scripts/bundled-requirements.txt, universal wheels),
#                                               and the build backend, so `pip install --no-index
#                                               --find-links dist/wheels dist/gradguard-*.whl` (or
#                                               the sdist) works with no index at all
# `--python-only` skips the VSIX (no Node needed). The Python and extension versions must agree.
# GRADGUARD_DIST=DIR writes into DIR instead of dist/ (tests/test_install.py).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -x .venv/bin/python ]; then py=.venv/bin/python; else py=${PYTHON:-python3}; fi
version=$("$py" -c "import tomllib; print(tomllib.load(open('pyproject.toml', 'rb'))['project']['version'])")
if [ "${1:-}" != "--python-only" ]; then
  extension=$(node -p "require('./package.json').version")
  [ "$version" = "$extension" ] || { echo "pyproject.toml says $version, package.json $extension" >&2; exit 1; }
fi

dist=${GRADGUARD_DIST:-dist}
mkdir -p "$dist"
rm -rf "$dist"/gradguard-*.whl "$dist"/gradguard-*.tar.gz "$dist"/gradguard-*.vsix "$dist/wheels"
# `build` makes the sdist, then the wheel from the unpacked sdist: a file missing from the
# sdist (MANIFEST.in) fails here rather than for whoever installs it.
"$py" -m build --outdir "$dist" . 2>&1 | grep -E "^Successfully built|ERROR|Error" || true
wheel=$dist/gradguard-$version-py3-none-any.whl
sdist=$dist/gradguard-$version.tar.gz
[ -f "$wheel" ] && [ -f "$sdist" ] || { echo "python -m build did not write $wheel and $sdist" >&2; exit 1; }

"$py" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  --platform any --implementation py --python-version 3.10 \
  --dest "$dist/wheels" -r scripts/bundled-requirements.txt 2> >(grep -v "is ignored: it is neither" >&2)
# The build backend too ([build-system] requires), so the sdist (and pre-commit's install of
# this repository) builds with no index either.
build_requires=$("$py" -c "import tomllib; print(' '.join(tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires']))")
"$py" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  --dest "$dist/wheels" $build_requires 2> >(grep -v "is ignored: it is neither" >&2)

if [ "${1:-}" != "--python-only" ]; then
  bash scripts/package-vsix.sh
  mv "gradguard-$version.vsix" "$dist/gradguard-$version.vsix"
fi
ls -l "$dist"/gradguard-* && echo "$dist/wheels: $(ls "$dist/wheels" | tr '\n' ' ')"
