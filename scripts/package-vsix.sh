#!/usr/bin/env bash
# Build gradguard-<version>.vsix at the repository root: bundle the client (esbuild,
# minified), fill bundled/libs (scripts/bundle-python.sh), then run `vsce package` in a
# staging folder holding only what .vscodeignore lets through. Staging keeps vsce from
# walking .venv/ and node_modules/ (30 s here) and makes the VSIX contents explicit.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(node -p "require('./package.json').version")
out="gradguard-$version.vsix"

node esbuild.mjs --production
bash scripts/bundle-python.sh

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp -r package.json .vscodeignore README.md CHANGELOG.md LICENSE icon.png dist bundled "$stage/"
rm -f "$stage"/dist/*.map
# dist/ is already built: vsce must not run the prepublish step (no node_modules in the stage).
node -e "
const fs = require('fs'); const file = process.argv[1];
const manifest = JSON.parse(fs.readFileSync(file, 'utf8'));
delete manifest.scripts['vscode:prepublish'];
fs.writeFileSync(file, JSON.stringify(manifest, null, 2) + '\n');
" "$stage/package.json"
vsce=$PWD/node_modules/.bin/vsce
rm -f "$out"
(cd "$stage" && "$vsce" package --no-dependencies --out "$OLDPWD/$out" 2>&1 | grep -v '^   [│├└ ]') 
ls -l "$out"
