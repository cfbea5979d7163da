import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serverLaunch } from '../../src/launch';

const probe = { version: [3, 11, 2] as [number, number, number], executable: '/usr/bin/python3', hasGradguard: false };

test('useBundled: <python> -m gradguard server with bundled/libs first on PYTHONPATH', () => {
  const outcome = serverLaunch({
    interpreter: ['conda', 'run', '-n', 'x', 'python'],
    importStrategy: 'useBundled',
    bundledLibs: '/ext/bundled/libs',
    bundledLibsPresent: true,
    probe,
    baseEnv: { PATH: '/usr/bin', PYTHONPATH: '/mine' },
    platform: 'linux',
  });
  assert.ok(outcome.ok);
  if (outcome.ok) {
    assert.equal(outcome.launch.command, 'conda');
    assert.deepEqual(outcome.launch.args, ['run', '-n', 'x', 'python', '-m', 'gradguard', 'server']);
    assert.equal(outcome.launch.env.PYTHONPATH, '/ext/bundled/libs:/mine');
    assert.equal(outcome.launch.env.PATH, '/usr/bin');
  }
});

test('useBundled without bundled/libs: a clear message', () => {
  const outcome = serverLaunch({ interpreter: ['python3'], importStrategy: 'useBundled', bundledLibs: '/x', bundledLibsPresent: false, probe, baseEnv: {} });
  assert.equal(outcome.ok, false);
  if (!outcome.ok) assert.match(outcome.message, /bundled server is missing/);
});

test('fromEnvironment: PYTHONPATH untouched; needs gradguard installed in the interpreter', () => {
  const missing = serverLaunch({ interpreter: ['python3'], importStrategy: 'fromEnvironment', bundledLibs: '/x', bundledLibsPresent: true, probe, baseEnv: {} });
  assert.equal(missing.ok, false);
  if (!missing.ok) {
    // The advice names the install route the README documents (the wheel scripts/release.sh builds).
    assert.match(missing.message, /not installed in \/usr\/bin\/python3\. Install the GradGuard wheel into it: "python3 -m pip install dist\/gradguard-\*-py3-none-any\.whl"/);
  }
  const present = serverLaunch({
    interpreter: ['python3'],
    importStrategy: 'fromEnvironment',
    bundledLibs: '/x',
    bundledLibsPresent: true,
    probe: { ...probe, hasGradguard: true },
    baseEnv: {},
  });
  assert.ok(present.ok);
  if (present.ok) assert.equal(present.launch.env.PYTHONPATH, undefined);
});

test('gradguard.path: `<path> server` with the environment untouched, whatever importStrategy says', () => {
  for (const importStrategy of ['useBundled', 'fromEnvironment'] as const) {
    const outcome = serverLaunch({
      interpreter: ['python3'],
      path: ['/home/me/.local/bin/gradguard'],
      importStrategy,
      bundledLibs: '/ext/bundled/libs',
      bundledLibsPresent: false,
      probe: undefined,
      baseEnv: { PYTHONPATH: '/mine' },
    });
    assert.ok(outcome.ok);
    if (outcome.ok) {
      assert.equal(outcome.launch.command, '/home/me/.local/bin/gradguard');
      assert.deepEqual(outcome.launch.args, ['server']);
      assert.equal(outcome.launch.env.PYTHONPATH, '/mine');
    }
  }
  const uvx = serverLaunch({ interpreter: ['python3'], path: ['uv', 'tool', 'run', 'gradguard'], importStrategy: 'useBundled', bundledLibs: '/x', bundledLibsPresent: true, baseEnv: {} });
  assert.ok(uvx.ok && uvx.launch.command === 'uv' && uvx.launch.args.join(' ') === 'tool run gradguard server');
});
