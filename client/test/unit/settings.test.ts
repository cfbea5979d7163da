import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  DEFAULTS,
  Inspection,
  KEYS,
  RESTRICTED_KEYS,
  needsRestart,
  resolveFolderSettings,
  resolveValue,
  showsNotification,
  toServerSettings,
} from '../../src/settings';

const manifest = JSON.parse(readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8'));

function inspector(layers: Record<string, Inspection<unknown>>) {
  return (key: string) => layers[key];
}

describe('resolveValue: folder > workspace > user > default', () => {
  test('the most specific layer wins in a trusted workspace', () => {
    const inspection = { defaultValue: 'd', globalValue: 'u', workspaceValue: 'w', workspaceFolderValue: 'f' };
    assert.deepEqual(resolveValue(inspection, 'x', { trusted: true, restricted: true }), { value: 'f', source: 'workspaceFolder' });
    assert.deepEqual(resolveValue({ ...inspection, workspaceFolderValue: undefined }, 'x', { trusted: true, restricted: true }), {
      value: 'w',
      source: 'workspace',
    });
    assert.deepEqual(resolveValue({ defaultValue: 'd' }, 'x', { trusted: true, restricted: false }), { value: 'd', source: 'default' });
    assert.deepEqual(resolveValue(undefined, 'x', { trusted: true, restricted: false }), { value: 'x', source: 'default' });
  });

  test('untrusted: restricted settings ignore workspace and folder values, and say so', () => {
    const inspection = { defaultValue: 'd', globalValue: 'u', workspaceValue: 'w', workspaceFolderValue: 'f' };
    assert.deepEqual(resolveValue(inspection, 'x', { trusted: false, restricted: true }), {
      value: 'u',
      source: 'user',
      ignoredUntrusted: 'workspaceFolder',
    });
    assert.deepEqual(resolveValue({ defaultValue: 'd', workspaceValue: 'w' }, 'x', { trusted: false, restricted: true }), {
      value: 'd',
      source: 'default',
      ignoredUntrusted: 'workspace',
    });
  });

  test('untrusted: other settings still use workspace values', () => {
    assert.deepEqual(resolveValue({ defaultValue: 'd', workspaceValue: 'w' }, 'x', { trusted: false, restricted: false }), {
      value: 'w',
      source: 'workspace',
    });
  });
});

describe('resolveFolderSettings', () => {
  test('defaults when nothing is set', () => {
    const result = resolveFolderSettings(() => undefined, true);
    assert.deepEqual(result.settings, DEFAULTS);
    assert.deepEqual(result.ignoredUntrusted, []);
    assert.deepEqual(result.problems, []);
  });

  test('reads every key, including the dotted codeAction key', () => {
    const result = resolveFolderSettings(
      inspector({
        enable: { workspaceValue: false },
        interpreter: { workspaceFolderValue: [' /opt/py/bin/python ', ''] },
        importStrategy: { globalValue: 'fromEnvironment' },
        path: { globalValue: [' ~/.local/bin/gradguard ', ''] },
        args: { workspaceValue: ['--select', 'GG1'] },
        select: { workspaceValue: ['GG1'] },
        ignore: { workspaceValue: ['GG105'] },
        severity: { globalValue: { GG105: 'warning' } },
        exclude: { workspaceValue: ['generated/*'] },
        configuration: { workspaceValue: ' ${workspaceFolder}/ci/gradguard.toml ' },
        extraPaths: { workspaceFolderValue: ['src'] },
        run: { workspaceValue: 'onSave' },
        debounceMs: { workspaceValue: 0 },
        incremental: { workspaceFolderValue: false },
        'codeAction.disableRuleComment.enable': { workspaceValue: false },
        logLevel: { globalValue: 'debug' },
        showNotifications: { globalValue: 'off' },
        showSyntaxErrors: { workspaceValue: false },
      }),
      true,
    );
    assert.deepEqual(result.settings, {
      enable: false,
      interpreter: ['/opt/py/bin/python'],
      importStrategy: 'fromEnvironment',
      path: ['~/.local/bin/gradguard'],
      args: ['--select', 'GG1'],
      select: ['GG1'],
      ignore: ['GG105'],
      severity: { GG105: 'warning' },
      exclude: ['generated/*'],
      configuration: '${workspaceFolder}/ci/gradguard.toml',
      extraPaths: ['src'],
      run: 'onSave',
      debounceMs: 0,
      incremental: false,
      disableRuleComment: false,
      logLevel: 'debug',
      showNotifications: 'off',
      showSyntaxErrors: false,
    });
    assert.deepEqual(result.problems, []);
  });

  test('every setting is contributed in package.json with the same default', () => {
    const properties = manifest.contributes.configuration.properties as Record<string, { default: unknown }>;
    for (const [field, key] of Object.entries(KEYS)) {
      const contributed = properties[`gradguard.${key}`];
      assert.ok(contributed, `gradguard.${key} is not contributed`);
      assert.deepEqual(contributed.default, DEFAULTS[field as keyof typeof DEFAULTS], `default of gradguard.${key}`);
    }
    const restricted = manifest.capabilities.untrustedWorkspaces.restrictedConfigurations as string[];
    assert.deepEqual([...restricted].sort(), RESTRICTED_KEYS.map((key) => `gradguard.${key}`).sort());
  });

  test('an untrusted workspace cannot choose the interpreter or the import strategy', () => {
    const result = resolveFolderSettings(
      inspector({
        interpreter: { defaultValue: [], globalValue: ['/usr/bin/python3'], workspaceValue: ['./evil/python'] },
        importStrategy: { defaultValue: 'useBundled', workspaceFolderValue: 'fromEnvironment' },
        path: { workspaceValue: ['./evil/gradguard'] },
        select: { workspaceValue: ['GG2'] },
      }),
      false,
    );
    assert.deepEqual(result.settings.interpreter, ['/usr/bin/python3']);
    assert.equal(result.settings.importStrategy, 'useBundled');
    assert.deepEqual(result.settings.select, ['GG2'], 'non-restricted settings still apply');
    assert.deepEqual(result.settings.path, []);
    assert.deepEqual(result.ignoredUntrusted, ['gradguard.interpreter', 'gradguard.importStrategy', 'gradguard.path']);
  });

  test('values of the wrong type fall back to the default with a message naming the key', () => {
    const result = resolveFolderSettings(
      inspector({ run: { workspaceValue: 'always' }, debounceMs: { workspaceValue: -5 }, interpreter: { workspaceValue: 'python3' } }),
      true,
    );
    assert.equal(result.settings.run, 'onType');
    assert.equal(result.settings.debounceMs, 300);
    assert.deepEqual(result.settings.interpreter, []);
    assert.equal(result.problems.length, 3);
    assert.match(result.problems.join('\n'), /gradguard\.run: "always" is not valid/);
  });
});

describe('toServerSettings', () => {
  test('sends only keys the server knows, nested the way settings.py reads them', () => {
    const out = toServerSettings(
      { ...DEFAULTS, importStrategy: 'fromEnvironment', interpreter: ['python3'], path: ['/opt/gradguard'] },
      '/usr/bin/python3',
    );
    assert.deepEqual(out, {
      enable: true,
      args: [],
      severity: {},
      exclude: [],
      extraPaths: [],
      run: 'onType',
      debounceMs: 300,
      incremental: true,
      codeAction: { disableRuleComment: { enable: true } },
      logLevel: 'info',
      showNotifications: 'onWarning',
      showSyntaxErrors: true,
      interpreter: '/usr/bin/python3',
    });
    assert.ok(!('importStrategy' in out) && !('path' in out));
  });

  test('empty select/ignore/configuration are left out (the project file decides)', () => {
    const out = toServerSettings({ ...DEFAULTS, select: ['GG1'], ignore: [] });
    assert.deepEqual(out.select, ['GG1']);
    assert.ok(!('ignore' in out));
    assert.ok(!('interpreter' in out));
    assert.ok(!('configuration' in out));
  });

  test('path-like values are expanded; args, exclude, logLevel and the switches pass through', () => {
    const expand = (value: string) => value.replace('${workspaceFolder}', '/work/project');
    const out = toServerSettings(
      {
        ...DEFAULTS,
        args: ['--config', '${workspaceFolder}/ci.toml'],
        exclude: ['generated/*'],
        configuration: '${workspaceFolder}/gradguard.toml',
        extraPaths: ['${workspaceFolder}/src'],
        logLevel: 'debug',
        showNotifications: 'always',
        showSyntaxErrors: false,
      },
      undefined,
      expand,
    );
    assert.deepEqual(out.args, ['--config', '/work/project/ci.toml']);
    assert.equal(out.configuration, '/work/project/gradguard.toml');
    assert.deepEqual(out.extraPaths, ['/work/project/src']);
    assert.deepEqual(out.exclude, ['generated/*']);
    assert.equal(out.logLevel, 'debug');
    assert.equal(out.showNotifications, 'always');
    assert.equal(out.showSyntaxErrors, false);
  });
});

test('needsRestart: only interpreter, path and importStrategy changes restart the server', () => {
  assert.equal(needsRestart((s) => s === 'gradguard.interpreter'), true);
  assert.equal(needsRestart((s) => s === 'gradguard.importStrategy'), true);
  assert.equal(needsRestart((s) => s === 'gradguard.path'), true);
  assert.equal(needsRestart((s) => s === 'gradguard.select' || s === 'gradguard' || s === 'gradguard.args'), false);
});

test('showsNotification follows the template: off < onError < onWarning < always', () => {
  assert.equal(showsNotification('off', 'error'), false);
  assert.equal(showsNotification('onError', 'error'), true);
  assert.equal(showsNotification('onError', 'warning'), false);
  assert.equal(showsNotification('onWarning', 'warning'), true);
  assert.equal(showsNotification('onWarning', 'info'), false);
  assert.equal(showsNotification('always', 'info'), true);
});
