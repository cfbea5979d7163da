/** The VSIX carries the client bundle, the bundled server and the docs: nothing else. */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { test } from 'node:test';
import { VSIX, run } from './helpers';

test('the VSIX holds only dist/, bundled/libs, package.json, README, CHANGELOG, LICENSE and the icon', async () => {
  assert.ok(fs.existsSync(VSIX), `${VSIX} is missing: run npm run package`);
  const listing = await run('unzip', ['-Z1', VSIX]);
  assert.equal(listing.code, 0, listing.stderr);
  const files = listing.stdout.split('\n').filter((line) => line && !line.endsWith('/'));
  const allowed = [
    /^extension\.vsixmanifest$/,
    /^\[Content_Types\]\.xml$/,
    /^extension\/package\.json$/,
    /^extension\/(readme\.md|changelog\.md|LICENSE\.txt|icon\.png)$/,
    /^extension\/dist\/extension\.js$/,
    /^extension\/bundled\/libs\/.+/,
  ];
  const unexpected = files.filter((file) => !allowed.some((pattern) => pattern.test(file)));
  assert.deepEqual(unexpected, [], `unexpected files in the VSIX:\n${unexpected.join('\n')}`);
  for (const required of [
    'extension/package.json',
    'extension/dist/extension.js',
    'extension/readme.md',
    'extension/changelog.md',
    'extension/LICENSE.txt',
    'extension/icon.png',
    'extension/bundled/libs/gradguard/lsp/server.py',
    // The rule pages the diagnostics, hovers and "Show Rule Documentation" open.
    'extension/bundled/libs/gradguard/rule_docs/GG101.md',
    'extension/bundled/libs/gradguard/rule_docs/GG201.md',
  ]) {
    assert.ok(files.includes(required), `${required} is missing from the VSIX`);
  }
  for (const library of ['gradguard', 'pygls', 'lsprotocol', 'attrs', 'cattrs', 'jedi', 'parso', 'pathspec']) {
    assert.ok(
      files.some((file) => file.startsWith(`extension/bundled/libs/${library}/`)),
      `the bundled library ${library} is missing from the VSIX`,
    );
  }
  const clutter = files.filter((file) => /(__pycache__|\.pyc$|\.map$|\.ts$|\/test\/|node_modules|\/bin\/)/.test(file) && !file.includes('/jedi/third_party/typeshed/'));
  assert.deepEqual(clutter, [], `test, source or cache files in the VSIX:\n${clutter.join('\n')}`);
  console.log(`# VSIX: ${files.length} files, ${(fs.statSync(VSIX).size / 1e6).toFixed(2)} MB`);
});
