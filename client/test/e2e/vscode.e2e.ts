/**
 * The VSIX in a real VS Code workbench: code-server 4.100.3 (VS Code 1.100) driven
 * through Debian's Chromium with playwright-core. Everything is asserted the way a
 * user sees it (squiggles, Problems rows, hovers, the Ctrl+. menu, the edited text)
 * and a screenshot of each step lands in test-output/vscode/.
 *
 * Environment: GRADGUARD_CODE_SERVER (the code-server binary), GRADGUARD_CHROMIUM
 * (default /usr/bin/chromium), GRADGUARD_VSIX, GRADGUARD_PYTHON (python3 on PATH by default).
 */

import assert from 'node:assert/strict';
import { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Browser, Locator, Page, chromium } from 'playwright-core';
import { OUTPUT, PYTHON, VSIX, copyWorkspace, run, startGroup, stopGroup, tempDir, waitForHttp } from './helpers';

const CODE_SERVER = process.env.GRADGUARD_CODE_SERVER ?? '/opt/gradguard-e2e/code-server-4.100.3/node_modules/.bin/code-server';
const CHROMIUM = process.env.GRADGUARD_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = path.join(OUTPUT, 'vscode');
const WAIT = 60000;

const STALE_LINE = 'model.fc = nn.Linear(4, 3)';
const OPTIMIZER_LINE = 'optimizer = SGD(model.parameters(), lr=0.1)';
const NONE_LINE = 'model.backbone.bias = None';

let root = '';
let userData = '';
let extensionsDir = '';
let workspace = '';
let server: ChildProcess | undefined;
let browser: Browser | undefined;
let page: Page;
let shot = 0;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function isolatedEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    HOME: path.join(root, 'home'),
    XDG_CONFIG_HOME: path.join(root, 'xdg', 'config'),
    XDG_DATA_HOME: path.join(root, 'xdg', 'data'),
    XDG_CACHE_HOME: path.join(root, 'xdg', 'cache'),
    // The extension host inherits this: python3 from PATH runs the bundled server.
    PATH: process.env.PATH,
  };
}

function writeUserSettings(extra: Record<string, unknown> = {}): void {
  const settings = {
    'security.workspace.trust.enabled': false,
    'workbench.startupEditor': 'none',
    'files.hotExit': 'off',
    'editor.hover.delay': 100,
    'editor.hover.sticky': true,
    'editor.minimap.enabled': false,
    'editor.lightbulb.enabled': 'off',
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'workbench.enableExperiments': false,
    'workbench.tips.enabled': false,
    'chat.commandCenter.enabled': false,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    'window.commandCenter': false,
    ...(process.env.GRADGUARD_PYTHON ? { 'gradguard.interpreter': [process.env.GRADGUARD_PYTHON] } : {}),
    ...extra,
  };
  const file = path.join(userData, 'User', 'settings.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(settings, null, 2));
}

async function screenshot(name: string): Promise<void> {
  shot += 1;
  const file = path.join(SHOTS, `${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file });
  console.log(`# screenshot: ${path.relative(OUTPUT, file)}`);
}

/** The rendered editor line holding `text` (only lines on screen are rendered). */
function editorLine(text: string): Locator {
  return page.locator('.monaco-editor .view-lines .view-line', { hasText: text }).first();
}

async function editorText(): Promise<string[]> {
  const lines = page.locator('.monaco-editor .view-lines .view-line');
  const items = await lines.evaluateAll((nodes) =>
    nodes
      .map((node) => ({ top: (node as HTMLElement).getBoundingClientRect().top, text: (node.textContent ?? '').replace(/\u00a0/g, ' ') }))
      .sort((a, b) => a.top - b.top)
      .map((item) => item.text),
  );
  return items;
}

/** Squiggles (warning or error) whose vertical extent overlaps the line holding `text`. */
async function squigglesOnLine(text: string): Promise<number> {
  const line = editorLine(text);
  if ((await line.count()) === 0) return 0;
  const box = await line.boundingBox();
  if (!box) return 0;
  const squiggles = page.locator('.monaco-editor .squiggly-warning, .monaco-editor .squiggly-error');
  const boxes = await squiggles.evaluateAll((nodes) => nodes.map((node) => (node as HTMLElement).getBoundingClientRect()).map((r) => ({ top: r.top, bottom: r.bottom, width: r.width })));
  const middle = box.y + box.height / 2;
  return boxes.filter((b) => b.width > 0 && b.top <= middle && b.bottom >= middle).length;
}

async function waitUntil(what: string, condition: () => Promise<boolean>, timeoutMs = WAIT): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await page.waitForTimeout(200);
  }
  await screenshot(`timeout-${what.replace(/[^a-z0-9]+/gi, '-').slice(0, 40)}`);
  throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
}

/** Moves keyboard focus back to the workbench document. After a webview (the Markdown preview)
 * or a closing editor had focus, a key press can land in a detached iframe and never reach the
 * workbench's keybindings. */
async function focusWorkbench(): Promise<void> {
  await page.evaluate(() => {
    (document.activeElement as HTMLElement | null)?.blur();
    window.focus();
  });
}

/** Opens the quick input with `keys`, retrying with the focus given back to the workbench. */
async function openQuickInput(keys: string): Promise<Locator> {
  const input = page.locator('.quick-input-widget input');
  for (let attempt = 0; attempt < 5; attempt++) {
    if (attempt > 0) {
      await page.keyboard.press('Escape');
      await focusWorkbench();
    }
    await page.keyboard.press(keys);
    try {
      await input.waitFor({ state: 'visible', timeout: 4000 });
      return input;
    } catch {
      console.log(`# ${keys} opened no quick input (attempt ${attempt + 1}); focusing the workbench`);
    }
  }
  await input.waitFor({ state: 'visible', timeout: 4000 });
  return input;
}

/** Closes the editor tab whose label matches `label`, retrying as `openQuickInput` does. */
async function closeTab(label: string | RegExp): Promise<void> {
  const tab = page.locator('.tabs-container .tab', { hasText: label });
  for (let attempt = 0; attempt < 5 && (await tab.count()) > 0; attempt++) {
    if (attempt > 0) await focusWorkbench();
    await tab.first().click();
    await page.keyboard.press('Control+W');
    try {
      await tab.first().waitFor({ state: 'detached', timeout: 4000 });
    } catch {
      console.log(`# the tab ${label} is still open (attempt ${attempt + 1}); focusing the workbench`);
    }
  }
  assert.equal(await tab.count(), 0, `the tab ${label} is closed`);
}

async function runCommand(title: string): Promise<void> {
  const input = await openQuickInput('Control+Shift+P');
  await input.fill(`>${title}`);
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first().waitFor({ state: 'visible' });
  await page.keyboard.press('Enter');
}

/** Opens a workspace file through Quick Open. A file the test has just written may be missing
 * from Quick Open's file list for a while: ask again, then by its absolute path (always listed). */
async function openFile(name: string): Promise<void> {
  const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: name }).first();
  for (let attempt = 0; ; attempt++) {
    const input = await openQuickInput('Control+P');
    await input.fill(attempt < 2 ? name : path.join(workspace, name));
    try {
      await row.waitFor({ state: 'visible', timeout: attempt < 5 ? 5000 : WAIT });
      break;
    } catch (error) {
      if (attempt >= 5) throw error;
      console.log(`# Quick Open does not list ${name} yet (attempt ${attempt + 1}); asking again`);
      await page.keyboard.press('Escape');
    }
  }
  await page.keyboard.press('Enter');
  await editorLine('import torch').waitFor({ state: 'visible', timeout: WAIT });
}

/** Clicks at the start of the line holding `text` (puts the cursor there). */
async function clickLine(text: string): Promise<void> {
  const line = editorLine(text);
  const box = await line.boundingBox();
  assert.ok(box, `the line "${text}" is not on screen`);
  await page.mouse.click(box.x + 5, box.y + box.height / 2);
}

async function hoverSquiggle(text: string, expected: RegExp): Promise<string> {
  await page.keyboard.press('Escape');
  const line = editorLine(text);
  const box = await line.boundingBox();
  assert.ok(box);
  const hover = page.locator('.monaco-hover:not(.hidden)').filter({ hasText: expected }).first();
  // Move onto the squiggled text (a few characters in), wiggle until the hover shows.
  const deadline = Date.now() + 20000;
  let dx = 12;
  while (Date.now() < deadline) {
    await page.mouse.move(box.x + dx, box.y + box.height / 2);
    try {
      await hover.waitFor({ state: 'visible', timeout: 1500 });
      break;
    } catch {
      dx = dx >= 60 ? 12 : dx + 8;
      await page.mouse.move(box.x + dx, box.y - 60);
    }
  }
  await hover.waitFor({ state: 'visible', timeout: 1000 });
  return (await hover.innerText()).replace(/\u00a0/g, ' ');
}

/** Opens the Ctrl+. menu on the line and applies the action whose title contains `title`. */
async function applyQuickFix(line: string, title: string): Promise<string[]> {
  await page.keyboard.press('Escape');
  await clickLine(line);
  await page.keyboard.press('Escape');
  await page.keyboard.press('Control+.');
  const rows = page.locator('.action-widget .monaco-list-row');
  await rows.first().waitFor({ state: 'visible', timeout: WAIT });
  await page.locator('.action-widget .monaco-list-row', { hasText: title }).first().waitFor({ state: 'visible', timeout: WAIT });
  const titles = (await rows.allInnerTexts()).map((t) => t.trim());
  await screenshot(`quick-fix-menu-${title.split(' ').slice(0, 2).join('-').toLowerCase()}`);
  // Keyboard only: clicking a row fails (an overlay intercepts the click).
  for (let i = 0; i < titles.length + 2; i++) {
    const focused = page.locator('.action-widget .monaco-list-row.focused');
    if ((await focused.count()) > 0 && (await focused.first().innerText()).includes(title)) break;
    await page.keyboard.press('ArrowDown');
    await page.waitForTimeout(50);
  }
  const focused = page.locator('.action-widget .monaco-list-row.focused');
  assert.ok((await focused.first().innerText()).includes(title), `could not focus "${title}" in ${JSON.stringify(titles)}`);
  await page.keyboard.press('Enter');
  return titles;
}

async function problemRows(): Promise<string[]> {
  return (await page.locator('.markers-panel .monaco-list-row').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
}

async function showProblems(): Promise<void> {
  if (!(await page.locator('.markers-panel').isVisible().catch(() => false))) {
    await runCommand('Problems: Focus on Problems View');
  }
  await page.locator('.markers-panel').waitFor({ state: 'visible' });
}

async function hidePanel(): Promise<void> {
  if (await page.locator('.markers-panel').isVisible().catch(() => false)) {
    await page.keyboard.press('Control+J'); // View: Toggle Panel Visibility
    await page.locator('.markers-panel').waitFor({ state: 'hidden', timeout: 5000 }).catch(() => undefined);
  }
  await clickLine('import torch');
}

describe('VS Code workbench (code-server 4.100.3 + Chromium)', { timeout: 300000 }, () => {
  before(async () => {
    assert.ok(fs.existsSync(CODE_SERVER), `code-server is missing at ${CODE_SERVER}: scripts/test-client.sh installs it`);
    assert.ok(fs.existsSync(VSIX), `${VSIX} is missing: run npm run package`);
    fs.rmSync(SHOTS, { recursive: true, force: true });
    fs.mkdirSync(SHOTS, { recursive: true });
    root = tempDir('gradguard-vscode-');
    userData = path.join(root, 'user-data');
    const extensions = path.join(root, 'extensions');
    extensionsDir = extensions;
    for (const dir of ['home', 'xdg/config', 'xdg/data', 'xdg/cache', 'user-data', 'extensions']) {
      fs.mkdirSync(path.join(root, dir), { recursive: true });
    }
    workspace = copyWorkspace(root);
    writeUserSettings();

    const install = await run(CODE_SERVER, ['--user-data-dir', userData, '--extensions-dir', extensions, '--install-extension', VSIX], {
      env: isolatedEnv(),
      timeoutMs: 120000,
    });
    assert.equal(install.code, 0, `installing the VSIX failed:\n${install.stdout}\n${install.stderr}`);
    assert.ok(
      fs.readdirSync(extensions).some((name) => name.startsWith('gradguard.gradguard-')),
      `the VSIX did not land in ${extensions}: ${fs.readdirSync(extensions).join(', ')}`,
    );

    const port = await freePort();
    server = startGroup(
      CODE_SERVER,
      [
        '--bind-addr', `127.0.0.1:${port}`,
        '--auth', 'none',
        '--disable-telemetry',
        '--disable-update-check',
        '--disable-workspace-trust',
        '--user-data-dir', userData,
        '--extensions-dir', extensions,
        workspace,
      ],
      isolatedEnv(),
      path.join(OUTPUT, 'code-server.log'),
    );
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, 60000);

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-background-networking', '--disable-component-update'],
    });
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    page = await context.newPage();
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
    await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: WAIT });
    await openFile('train.py');
    await screenshot('train-py-opened');
  });

  after(async () => {
    if (page) {
      const logs = path.join(userData, 'logs');
      // Keep the extension's log (the GradGuard output channel) next to the screenshots.
      const found = fs.existsSync(logs) ? fs.readdirSync(logs, { recursive: true }).map(String).filter((f) => f.endsWith('GradGuard.log')) : [];
      for (const file of found) fs.copyFileSync(path.join(logs, file), path.join(OUTPUT, `vscode-${path.basename(path.dirname(file))}-GradGuard.log`));
    }
    await browser?.close().catch(() => undefined);
    await stopGroup(server);
  });

  test('GG102 stale optimizer: squiggle, Problems row, hover, "Move the optimizer creation" quick fix', async () => {
    await waitUntil('a squiggle is on the `model.fc = ...` line', async () => (await squigglesOnLine(STALE_LINE)) > 0);
    assert.equal(await squigglesOnLine(OPTIMIZER_LINE), 0, 'the optimizer line itself must not be squiggled');
    await screenshot('gg102-squiggle');

    await showProblems();
    await waitUntil('the Problems panel lists GG102', async () => (await problemRows()).some((row) => row.includes('GG102')));
    const rows = await problemRows();
    const row = rows.find((r) => r.includes('GG102')) ?? '';
    assert.match(row, /`?model\.fc`? is replaced after `?optimizer`? was created/);
    assert.match(row, /gradguard/i, 'the row names the source');
    assert.match(row, /\[Ln 18, Col 1\]/, `GG102 is reported on line 18: ${row}`);
    assert.ok(rows.some((r) => r.includes('GG201') && /\[Ln 19, Col 1\]/.test(r)), `GG201 is listed on line 19: ${JSON.stringify(rows)}`);
    await screenshot('gg102-problems-panel');
    await hidePanel();

    const hover = await hoverSquiggle(STALE_LINE, /GG102/);
    assert.match(hover, /GradGuard GG102/);
    assert.match(hover, /stale-optimizer/);
    assert.match(hover, /never updates them/);
    await screenshot('gg102-hover');

    const titles = await applyQuickFix(STALE_LINE, 'Move the optimizer creation');
    assert.ok(titles.some((t) => t.includes('GradGuard (GG102): Move the optimizer creation below line 18')), JSON.stringify(titles));
    await waitUntil('the optimizer is created after the new head', async () => {
      const text = await editorText();
      const head = text.findIndex((l) => l.startsWith(STALE_LINE));
      const optimizer = text.findIndex((l) => l.startsWith(OPTIMIZER_LINE));
      return head >= 0 && optimizer === head + 1;
    });
    const text = await editorText();
    assert.equal(text[text.findIndex((l) => l.startsWith('model = Net()')) + 1].trim(), `${STALE_LINE}  # new head for three classes`);
    await screenshot('gg102-fix-applied');
    await waitUntil('the GG102 squiggle is gone', async () => (await squigglesOnLine(STALE_LINE)) === 0 && (await squigglesOnLine(NONE_LINE)) > 0);
    await screenshot('gg102-squiggle-gone');
  });

  test('rule links: the hover links to the page shipped in the VSIX; Show Rule Documentation renders it', async () => {
    await waitUntil('a squiggle is on the `model.backbone.bias = None` line', async () => (await squigglesOnLine(NONE_LINE)) > 0);
    await hoverSquiggle(NONE_LINE, /GG201/);
    const link = page.locator('.monaco-hover:not(.hidden) a', { hasText: 'Documentation' }).first();
    const href = (await link.getAttribute('data-href')) ?? (await link.getAttribute('href')) ?? '';
    // The server's file:// link, which the (remote) workbench shows as vscode-remote://host/path.
    assert.match(href, /^(file|vscode-remote):\/\/[^/]*\/.*\/bundled\/libs\/gradguard\/rule_docs\/GG201\.md$/, `the hover links to the bundled page: ${href}`);
    const pagePath = decodeURIComponent(new URL(href).pathname);
    assert.ok(pagePath.startsWith(extensionsDir), `${pagePath} is inside the installed extension`);
    assert.match(fs.readFileSync(pagePath, 'utf8'), /^# GG201 `none-assigned-to-parameter`/);
    await screenshot('gg201-hover-documentation-link');
    // Following the link opens the page in an editor, as Markdown.
    await link.click();
    const pageTab = page.locator('.tabs-container .tab', { hasText: 'GG201.md' }).first();
    await pageTab.waitFor({ state: 'visible', timeout: WAIT });
    await page.locator('.monaco-editor .view-lines .view-line', { hasText: '# GG201 `none-assigned-to-parameter`' }).first().waitFor({ state: 'visible', timeout: WAIT });
    await screenshot('gg201-documentation-link-opened');
    await closeTab('GG201.md');
    await openFile('train.py');

    await runCommand('GradGuard: Show Rule Documentation');
    const pick = page.locator('.quick-input-widget .monaco-list-row', { hasText: 'GG201 none-assigned-to-parameter' }).first();
    await pick.waitFor({ state: 'visible', timeout: WAIT });
    await page.locator('.quick-input-widget input').fill('GG201');
    await page.keyboard.press('Enter');
    const tab = page.locator('.tabs-container .tab', { hasText: /Preview GG201\.md/ }).first();
    await tab.waitFor({ state: 'visible', timeout: WAIT });
    await page.waitForTimeout(1500); // the webview renders
    await screenshot('gg201-rule-documentation-preview');
    await closeTab(/Preview GG201\.md/);
    await openFile('train.py');
  });

  test('GG201 None over a parameter: squiggle, Problems row, hover, "Remove the None assignment" quick fix', async () => {
    await waitUntil('a squiggle is on the `model.backbone.bias = None` line', async () => (await squigglesOnLine(NONE_LINE)) > 0);
    await screenshot('gg201-squiggle');

    await showProblems();
    await waitUntil('the Problems panel lists only GG201', async () => {
      const rows = await problemRows();
      return rows.some((r) => r.includes('GG201')) && !rows.some((r) => r.includes('GG102'));
    });
    const row = (await problemRows()).find((r) => r.includes('GG201')) ?? '';
    assert.match(row, /Writing `?None`? over the parameter `?model\.backbone\.bias`?/);
    assert.match(row, /\[Ln 19, Col 1\]/, `GG201 is on line 19: ${row}`);
    await screenshot('gg201-problems-panel');
    await hidePanel();

    const hover = await hoverSquiggle(NONE_LINE, /GG201/);
    assert.match(hover, /GradGuard GG201/);
    assert.match(hover, /none-assigned-to-parameter/);
    await screenshot('gg201-hover');

    const titles = await applyQuickFix(NONE_LINE, 'Remove the None assignment');
    assert.ok(titles.some((t) => t.includes('GradGuard (GG201): Remove the None assignment')), JSON.stringify(titles));
    await waitUntil('the None assignment line is gone', async () => !(await editorText()).some((l) => l.includes(NONE_LINE)));
    const text = await editorText();
    const optimizer = text.findIndex((l) => l.startsWith(OPTIMIZER_LINE));
    assert.equal(text[optimizer + 1].trim(), '', `the line after the optimizer is now blank: ${JSON.stringify(text)}`);
    await screenshot('gg201-fix-applied');
    await waitUntil('no squiggle is left', async () => (await page.locator('.monaco-editor .squiggly-warning, .monaco-editor .squiggly-error').count()) === 0);
    await showProblems();
    await waitUntil('the Problems panel is empty', async () => (await problemRows()).filter((r) => /GG\d{3}/.test(r)).length === 0);
    await screenshot('no-problems-left');
    await hidePanel();
  });

  test('settings: showSyntaxErrors, args, exclude and path take effect', async () => {
    const settingsFile = path.join(workspace, '.vscode', 'settings.json');
    const useSettings = (values: Record<string, unknown>) => {
      fs.mkdirSync(path.dirname(settingsFile), { recursive: true });
      fs.writeFileSync(settingsFile, JSON.stringify(values));
    };
    const rowsWith = async (pattern: RegExp) => (await problemRows()).filter((row) => pattern.test(row));
    fs.writeFileSync(path.join(workspace, 'broken.py'), 'import torch\n\ndef broken(:\n    pass\n');
    fs.writeFileSync(
      path.join(workspace, 'model.py'),
      'import torch\nfrom torch import nn\n\n\nclass Net(nn.Module):\n    def _init_(self):\n        super().__init__()\n',
    );
    await openFile('broken.py');
    await showProblems();
    await waitUntil('the syntax error is listed', async () => (await rowsWith(/syntax error/)).length === 1);
    assert.match((await rowsWith(/syntax error/))[0], /\[Ln 3, Col 12\]/);
    await screenshot('settings-syntax-error-shown');
    useSettings({ 'gradguard.showSyntaxErrors': false });
    await waitUntil('gradguard.showSyntaxErrors false hides it', async () => (await rowsWith(/syntax error/)).length === 0);
    await screenshot('settings-syntax-error-hidden');

    await openFile('model.py');
    await showProblems();
    await waitUntil('GG204 is listed for model.py', async () => (await rowsWith(/GG204/)).length === 1);
    useSettings({ 'gradguard.showSyntaxErrors': false, 'gradguard.args': ['--ignore', 'GG204'] });
    await waitUntil('gradguard.args --ignore GG204 removes it', async () => (await rowsWith(/GG204/)).length === 0);
    await screenshot('settings-args-ignore');
    useSettings({ 'gradguard.exclude': ['model.py'] });
    await waitUntil('GG204 is back, then gradguard.exclude hides the file', async () => (await rowsWith(/GG204/)).length === 0 && (await rowsWith(/syntax error/)).length === 1);
    useSettings({});
    await waitUntil('without exclude GG204 is listed again', async () => (await rowsWith(/GG204/)).length === 1);

    // gradguard.path: a `gradguard` command of the user's own (here a wrapper around the
    // bundled server that leaves a mark), started as `<path> server`.
    const libs = path.join(extensionsDir, fs.readdirSync(extensionsDir).find((name) => name.startsWith('gradguard.gradguard-')) ?? '', 'bundled', 'libs');
    const marker = path.join(root, 'path-server-started');
    const wrapper = path.join(root, 'my-gradguard');
    fs.writeFileSync(wrapper, `#!/bin/sh\necho "$@" > '${marker}'\nPYTHONPATH='${libs}' exec ${PYTHON} -P -m gradguard "$@"\n`, { mode: 0o755 });
    useSettings({ 'gradguard.path': [wrapper], 'gradguard.ignore': ['GG1', 'GG3'] });
    await waitUntil('the server was started through gradguard.path', async () => fs.existsSync(marker), WAIT);
    assert.equal(fs.readFileSync(marker, 'utf8').trim(), 'server');
    await waitUntil('the server started by gradguard.path reports GG204', async () => (await rowsWith(/GG204/)).length === 1);
    await screenshot('settings-path-server');
    useSettings({});
    await hidePanel();
  });

  test('a broken gradguard.interpreter shows one clear error notification', async () => {
    // A workspace setting, as a project would carry it (the workspace is trusted here).
    fs.mkdirSync(path.join(workspace, '.vscode'), { recursive: true });
    fs.writeFileSync(path.join(workspace, '.vscode', 'settings.json'), JSON.stringify({ 'gradguard.interpreter': ['/nonexistent/bin/python3'] }));
    const toast = page.locator('.notifications-toasts .notification-toast', { hasText: '/nonexistent/bin/python3' });
    await toast.first().waitFor({ state: 'visible', timeout: WAIT });
    const message = (await toast.first().innerText()).replace(/\s+/g, ' ');
    assert.match(message, /\/nonexistent\/bin\/python3/);
    assert.match(message, /does not exist/);
    assert.match(message, /gradguard\.interpreter/);
    await screenshot('broken-interpreter-error');
    await page.waitForTimeout(1500);
    assert.equal(await toast.count(), 1, 'the error is shown once');
  });
});
