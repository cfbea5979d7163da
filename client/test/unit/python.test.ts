import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  InterpreterChoice,
  expandVariables,
  interpretProbe,
  isSupportedVersion,
  parseProbeOutput,
  probeInterpreter,
  selectInterpreter,
} from '../../src/python';

describe('selectInterpreter: setting, then the Python extension, then python3 on PATH', () => {
  test('the setting wins and the Python extension is not asked', async () => {
    let asked = false;
    const choice = await selectInterpreter({
      setting: ['${workspaceFolder}/.venv/bin/python'],
      workspaceFolder: '/work/project',
      pythonExtension: async () => {
        asked = true;
        return '/ext/python';
      },
    });
    assert.deepEqual(choice, { command: ['/work/project/.venv/bin/python'], source: 'setting' });
    assert.equal(asked, false);
  });

  test('blank setting entries count as unset', async () => {
    const choice = await selectInterpreter({ setting: ['  '], pythonExtension: async () => '/ext/python' });
    assert.deepEqual(choice, { command: ['/ext/python'], source: 'pythonExtension' });
  });

  test('without the Python extension (or no environment): python3 on PATH', async () => {
    assert.deepEqual(await selectInterpreter({ setting: [], platform: 'linux' }), { command: ['python3'], source: 'path' });
    assert.deepEqual(await selectInterpreter({ setting: [], pythonExtension: async () => undefined, platform: 'linux' }), {
      command: ['python3'],
      source: 'path',
    });
    assert.deepEqual(await selectInterpreter({ setting: [], platform: 'win32' }), { command: ['python'], source: 'path' });
  });

  test('a failing Python extension falls back to PATH', async () => {
    const choice = await selectInterpreter({
      setting: [],
      platform: 'linux',
      pythonExtension: async () => {
        throw new Error('activation failed');
      },
    });
    assert.equal(choice.source, 'path');
  });
});

test('expandVariables: ${workspaceFolder}, ${userHome}, ${env:X}, ~', () => {
  const context = { workspaceFolder: '/w', home: '/home/u', env: { VENV: '/v' } };
  assert.equal(expandVariables('${workspaceFolder}/py', context), '/w/py');
  assert.equal(expandVariables('${userHome}/py', context), '/home/u/py');
  assert.equal(expandVariables('${env:VENV}/bin/python', context), '/v/bin/python');
  assert.equal(expandVariables('~/py/bin/python', context), '/home/u/py/bin/python');
  assert.equal(expandVariables('${workspaceFolder}/py', { home: '/h' }), '${workspaceFolder}/py');
});

describe('version check', () => {
  test('parses the probe line among other output', () => {
    assert.deepEqual(parseProbeOutput('noise\nGRADGUARD_PROBE 3.11.2 1 /usr/bin/python3\n'), {
      version: [3, 11, 2],
      hasGradguard: true,
      executable: '/usr/bin/python3',
    });
    assert.deepEqual(parseProbeOutput('GRADGUARD_PROBE 3.10.0 0 C:\\Program Files\\Python310\\python.exe\r\n')?.executable, 'C:\\Program Files\\Python310\\python.exe');
    assert.equal(parseProbeOutput('Python 3.12.0'), undefined);
  });

  test('3.10 or newer is required', () => {
    assert.equal(isSupportedVersion([3, 10, 0]), true);
    assert.equal(isSupportedVersion([3, 13, 1]), true);
    assert.equal(isSupportedVersion([4, 0, 0]), true);
    assert.equal(isSupportedVersion([3, 9, 18]), false);
    assert.equal(isSupportedVersion([2, 7, 18]), false);
  });

  const fromSetting: InterpreterChoice = { command: ['/opt/python3.9'], source: 'setting' };

  test('too old: one message naming the version and the fix', () => {
    const outcome = interpretProbe(fromSetting, { stdout: 'GRADGUARD_PROBE 3.9.18 0 /opt/python3.9\n', stderr: '' });
    assert.equal(outcome.ok, false);
    if (!outcome.ok) {
      assert.match(outcome.message, /is Python 3\.9\.18, but GradGuard needs Python 3\.10 or newer/);
      assert.match(outcome.message, /Set "gradguard\.interpreter"/);
    }
  });

  test('missing program: says it does not exist and where the value came from', () => {
    const outcome = interpretProbe(fromSetting, { stdout: '', stderr: '', error: { code: 'ENOENT', message: 'spawn /opt/python3.9 ENOENT' } });
    assert.equal(outcome.ok, false);
    if (!outcome.ok) assert.match(outcome.message, /"\/opt\/python3\.9" \(from the gradguard\.interpreter setting\) does not exist/);
  });

  test('not Python at all: shows the last line of its error', () => {
    const outcome = interpretProbe(
      { command: ['/bin/false'], source: 'setting' },
      { stdout: '', stderr: 'usage: false\nunknown option -c', error: { code: 1, message: 'Command failed' } },
    );
    assert.equal(outcome.ok, false);
    if (!outcome.ok) assert.match(outcome.message, /did not run as Python \(unknown option -c\)/);
  });

  test("probes a real interpreter (this machine's python3)", async () => {
    const outcome = await probeInterpreter({ command: [process.env.GRADGUARD_PYTHON ?? 'python3'], source: 'path' });
    assert.equal(outcome.ok, true, outcome.ok ? '' : outcome.message);
  });

  test('probes a missing interpreter', async () => {
    const outcome = await probeInterpreter({ command: ['/nonexistent/python3'], source: 'setting' });
    assert.equal(outcome.ok, false);
    if (!outcome.ok) assert.match(outcome.message, /does not exist/);
  });
});
