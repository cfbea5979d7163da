#!/usr/bin/env bash
# The VS Code extension: install what it needs, type-check, lint, unit-test, build the
# VSIX, then run the end-to-end tests in real editors (code-server + Chromium through
# playwright-core, and headless Neovim). Exits non-zero on any failure.
#
# Works as root on a fresh Debian 12 machine with Node 20 and npm (only the Debian, npm
# and PyPI registries need to be reachable). Everything heavy is cached outside the
# repository and reused: code-server in $GRADGUARD_E2E_CACHE (default
# /opt/gradguard-e2e, or ~/.cache/gradguard-e2e when /opt is not writable).
# Screenshots and logs go to test-output/.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
start=$(date +%s)
step() { echo "== client: $* ($(($(date +%s) - start)) s)"; }

CODE_SERVER_VERSION=4.100.3
if [ -z "${GRADGUARD_E2E_CACHE:-}" ]; then
  if [ -w /opt ] || { [ ! -e /opt ] && [ "$(id -u)" = 0 ]; }; then GRADGUARD_E2E_CACHE=/opt/gradguard-e2e
  else GRADGUARD_E2E_CACHE=$HOME/.cache/gradguard-e2e; fi
fi
cache=$GRADGUARD_E2E_CACHE
code_server_dir=$cache/code-server-$CODE_SERVER_VERSION
export GRADGUARD_CODE_SERVER=$code_server_dir/node_modules/.bin/code-server
export GRADGUARD_CHROMIUM=${GRADGUARD_CHROMIUM:-/usr/bin/chromium}

# -- Debian packages ---------------------------------------------------------------------
# chromium (the browser for the workbench), neovim (0.7.2: the second LSP client),
# ripgrep (rg for code-server, see below), libkrb5-dev (code-server's kerberos module
# compiles against it), build-essential + python3 (node-gyp), unzip (VSIX listing).
step "Debian packages"
packages="chromium neovim ripgrep libkrb5-dev build-essential python3 python3-venv unzip"
missing=""
for package in $packages; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then echo "missing Debian packages:$missing (run as root to install them)" >&2; exit 1; fi
  echo "installing:$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# -- npm ---------------------------------------------------------------------------------
step "npm ci"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
  || [ package.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  echo "node_modules is up to date with package-lock.json"
fi

# -- Python: bundle-python.sh uses the project's .venv (scripts/setup-python.sh), else a small
# venv in the cache (pip only; no torch needed to bundle the server).
if [ ! -x .venv/bin/python ]; then
  step "Python venv for bundling"
  [ -x "$cache/venv/bin/python" ] || { mkdir -p "$cache"; python3 -m venv "$cache/venv"; }
  export PYTHON=$cache/venv/bin/python
fi

# -- code-server, outside the repository -----------------------------------------------------
# The traps of `npm install code-server` on this kind of machine (see the README):
#  1. its postinstall refuses root unless npm_config_unsafe_perm=true;
#  2. @vscode/ripgrep downloads rg from GitHub (unreachable): pre-fill its cache with
#     Debian's rg, packed the way it expects;
#  3. node-pty's postinstall runs `npx node-gyp`, which npm cancels unless npm_config_yes=true;
#  4. npm >= 11.10 skips dependency install scripts by default (allowScripts), which
#     leaves code-server without its VS Code dependencies: allow them for this install only;
#  and npm_config_nodedir=/usr makes node-gyp use the installed Node headers (no download).
step "code-server $CODE_SERVER_VERSION"
if [ -x "$GRADGUARD_CODE_SERVER" ] && [ -e "$code_server_dir/node_modules/code-server/lib/vscode/node_modules.asar" ] \
  && XDG_CONFIG_HOME=$cache/xdg XDG_DATA_HOME=$cache/xdg XDG_CACHE_HOME=$cache/xdg \
     "$GRADGUARD_CODE_SERVER" --version 2>/dev/null | grep -q "^$CODE_SERVER_VERSION "; then
  echo "reusing $code_server_dir"
else
  rm -rf "$code_server_dir"
  mkdir -p "$code_server_dir" "$cache/tmp/rg" "$cache/tmp/vscode-ripgrep-cache-1.15.11"
  cp /usr/bin/rg "$cache/tmp/rg/rg"
  tar czf "$cache/tmp/vscode-ripgrep-cache-1.15.11/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$cache/tmp/rg" rg
  echo '{"private": true}' > "$code_server_dir/package.json"
  (
    cd "$code_server_dir"
    TMPDIR=$cache/tmp npm_config_yes=true npm_config_unsafe_perm=true npm_config_nodedir=/usr \
      npm_config_dangerously_allow_all_scripts=true \
      npm install --no-audit --no-fund --loglevel=error "code-server@$CODE_SERVER_VERSION" 2>&1 \
      | grep -v 'Unknown env config "unsafe-perm"' || true
  )
  XDG_CONFIG_HOME=$cache/xdg XDG_DATA_HOME=$cache/xdg XDG_CACHE_HOME=$cache/xdg "$GRADGUARD_CODE_SERVER" --version \
    || { echo "code-server $CODE_SERVER_VERSION did not install" >&2; rm -rf "$code_server_dir"; exit 1; }
fi

# -- checks --------------------------------------------------------------------------------
step "tsc --noEmit"
npm run --silent typecheck
step "eslint"
npm run --silent lint
step "unit tests"
npm run --silent test:unit

# -- the VSIX ------------------------------------------------------------------------------
step "npm run package"
npm run --silent package

# -- end-to-end tests in real editors ------------------------------------------------------------
step "end-to-end tests (VSIX contents, Neovim, code-server + Chromium)"
mkdir -p test-output
status=0
node --import tsx --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination=test-output/e2e.tap \
  client/test/e2e/*.e2e.ts || status=$?
passed=$(grep -E '^# pass ' test-output/e2e.tap | awk '{print $3}')
failed=$(grep -E '^# fail ' test-output/e2e.tap | awk '{print $3}')
echo "client e2e: ${passed:-0} passed, ${failed:-?} failed; screenshots in test-output/vscode/ ($(($(date +%s) - start)) s)"
if [ "$status" != 0 ] || [ "${failed:-1}" != 0 ]; then
  echo "client e2e FAILED (logs: test-output/code-server.log, test-output/vscode-*GradGuard.log)" >&2
  exit 1
fi
