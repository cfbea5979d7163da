import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

const root = path.join(__dirname, '..', '..', '..');
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));

test('the extension activates for every notebook type its document selector names', () => {
  // server.ts imports vscode, so its selector is read as text.
  const source = readFileSync(path.join(root, 'client', 'src', 'server.ts'), 'utf8');
  const notebookTypes = [...source.matchAll(/notebookType: '([^']+)'/g)].map((match) => match[1]);
  assert.deepEqual(notebookTypes.sort(), ['interactive', 'jupyter-notebook']);
  for (const type of notebookTypes) {
    assert.ok(manifest.activationEvents.includes(`onNotebook:${type}`), `onNotebook:${type} is missing`);
  }
  assert.ok(manifest.activationEvents.includes('onLanguage:python'));
});

test('every command the extension registers is contributed, and the other way round', () => {
  const source = readFileSync(path.join(root, 'client', 'src', 'extension.ts'), 'utf8');
  const registered = [...source.matchAll(/registerCommand\('([^']+)'/g)].map((match) => match[1]).sort();
  const contributed = (manifest.contributes.commands as { command: string }[]).map((c) => c.command).sort();
  assert.deepEqual(registered, contributed);
  assert.ok(contributed.includes('gradguard.showRuleDocumentation'));
});
