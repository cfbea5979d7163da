import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULTS, Inspection, needsRestart, resolveFolderSettings, resolveValue, toServerSettings } from '../../src/settings';

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
        select: { workspaceValue: ['GG1'] },
        ignore: { workspaceValue: ['GG105'] },
        severity: { globalValue: { GG105: 'warning' } },
        run: { workspaceValue: 'onSave' },
        debounceMs: { workspaceValue: 0 },
        incremental: { workspaceFolderValue: false },
        'codeAction.disableRuleComment.enable': { workspaceValue: false },
      }),
      true,
    );
    assert.deepEqual(result.settings, {
      enable: false,
      interpreter: ['/opt/py/bin/python'],
      importStrategy: 'fromEnvironment',
      select: ['GG1'],
      ignore: ['GG105'],
      severity: { GG105: 'warning' },
      run: 'onSave',
      debounceMs: 0,
      incremental: false,
      disableRuleComment: false,
    });
  });

  test('an untrusted workspace cannot choose the interpreter or the import strategy', () => {
    const result = resolveFolderSettings(
      inspector({
        interpreter: { defaultValue: [], globalValue: ['/usr/bin/python3'], workspaceValue: ['./evil/python'] },
        importStrategy: { defaultValue: 'useBundled', workspaceFolderValue: 'fromEnvironment' },
        select: { workspaceValue: ['GG2'] },
      }),
      false,
    );
    assert.deepEqual(result.settings.interpreter, ['/usr/bin/python3']);
    assert.equal(result.settings.importStrategy, 'useBundled');
    assert.deepEqual(result.settings.select, ['GG2'], 'non-restricted settings still apply');
    assert.deepEqual(result.ignoredUntrusted, ['gradguard.interpreter', 'gradguard.importStrategy']);
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
    const out = toServerSettings({ ...DEFAULTS, importStrategy: 'fromEnvironment', interpreter: ['python3'] }, '/usr/bin/python3');
    assert.deepEqual(out, {
      enable: true,
      severity: {},
      run: 'onType',
      debounceMs: 300,
      incremental: true,
      codeAction: { disableRuleComment: { enable: true } },
      interpreter: '/usr/bin/python3',
    });
    assert.ok(!('importStrategy' in out));
  });

  test('empty select/ignore are left out (the project file decides)', () => {
    const out = toServerSettings({ ...DEFAULTS, select: ['GG1'], ignore: [] });
    assert.deepEqual(out.select, ['GG1']);
    assert.ok(!('ignore' in out));
    assert.ok(!('interpreter' in out));
  });
});

test('needsRestart: only interpreter and importStrategy changes restart the server', () => {
  assert.equal(needsRestart((s) => s === 'gradguard.interpreter'), true);
  assert.equal(needsRestart((s) => s === 'gradguard.importStrategy'), true);
  assert.equal(needsRestart((s) => s === 'gradguard.select' || s === 'gradguard'), false);
});
