/** The GradGuard server (bundled/libs, as in the VSIX) through Neovim's built-in LSP client. */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { PYTHON, REPO, copyWorkspace, run, tempDir } from './helpers';

test('Neovim (headless): diagnostics, hover and a quick fix from the bundled server', async () => {
  const root = tempDir('gradguard-nvim-');
  const workspace = copyWorkspace(root);
  const xdg = path.join(root, 'xdg');
  fs.mkdirSync(xdg);
  const libs = path.join(REPO, 'bundled', 'libs');
  assert.ok(fs.existsSync(path.join(libs, 'gradguard')), `${libs} is missing: run scripts/bundle-python.sh`);
  const result = await run(
    process.env.GRADGUARD_NVIM ?? 'nvim',
    ['--headless', '--clean', '-u', 'NONE', '-n', '-c', `luafile ${path.join(__dirname, 'neovim.lua')}`],
    {
      env: {
        PATH: process.env.PATH,
        HOME: root,
        XDG_CONFIG_HOME: xdg,
        XDG_DATA_HOME: xdg,
        XDG_STATE_HOME: xdg,
        XDG_CACHE_HOME: xdg,
        GRADGUARD_PYTHON: PYTHON,
        GRADGUARD_PYTHONPATH: libs,
        GRADGUARD_FILE: path.join(workspace, 'train.py'),
      },
      timeoutMs: 120000,
    },
  );
  process.stdout.write(result.stdout.replace(/^/gm, '  nvim | '));
  assert.equal(result.code, 0, `nvim exited with ${result.code}\n${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, /# neovim: \d+ passed, 0 failed/);
});
