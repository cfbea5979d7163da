/**
 * Which Python runs the server, and is it good enough.
 *
 * Pure apart from `child_process` (no `vscode` import): the order is
 * 1. the `gradguard.interpreter` setting (already trust-filtered by settings.ts);
 * 2. the Python extension's active environment for the folder, when it is installed
 *    (the caller passes a function that asks it; see pythonExtension.ts);
 * 3. `python3` on PATH (`python` on Windows).
 * The chosen command is then probed with `-c` for its version (3.10+ needed), its real
 * executable and whether it can import `gradguard` (for importStrategy fromEnvironment).
 */

import { execFile } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';

export const MIN_VERSION: readonly [number, number] = [3, 10];

export type InterpreterSource = 'setting' | 'pythonExtension' | 'path';

export interface InterpreterChoice {
  /** Executable and leading arguments, e.g. `["/usr/bin/python3"]` or `["conda", "run", "-n", "x", "python"]`. */
  command: string[];
  source: InterpreterSource;
}

export interface SelectOptions {
  /** `gradguard.interpreter` (trust-filtered, blanks removed). */
  setting: string[];
  /** Asks the Python extension for the active environment's executable; undefined if not installed or none. */
  pythonExtension?: () => Promise<string | undefined>;
  /** For `${workspaceFolder}` in the setting. */
  workspaceFolder?: string;
  platform?: NodeJS.Platform;
  env?: Record<string, string | undefined>;
  home?: string;
}

/** Expands `${workspaceFolder}`, `${userHome}`, `${env:NAME}` and a leading `~`, like the Python tool extensions. */
export function expandVariables(
  value: string,
  context: { workspaceFolder?: string; env?: Record<string, string | undefined>; home?: string },
): string {
  const home = context.home ?? os.homedir();
  let out = value.replace(/\$\{(workspaceFolder|userHome|env:([A-Za-z_][A-Za-z0-9_]*))\}/g, (whole, name: string, envName?: string) => {
    if (name === 'workspaceFolder') return context.workspaceFolder ?? whole;
    if (name === 'userHome') return home;
    return context.env?.[envName ?? ''] ?? '';
  });
  if (out === '~' || out.startsWith('~/')) out = path.join(home, out.slice(1));
  return out;
}

export function defaultPython(platform: NodeJS.Platform = process.platform): string {
  return platform === 'win32' ? 'python' : 'python3';
}

/** The interpreter to use, in the documented order. */
export async function selectInterpreter(options: SelectOptions): Promise<InterpreterChoice> {
  const setting = options.setting.map((part) => part.trim()).filter((part) => part.length > 0);
  if (setting.length > 0) {
    return {
      command: setting.map((part) =>
        expandVariables(part, { workspaceFolder: options.workspaceFolder, env: options.env ?? process.env, home: options.home }),
      ),
      source: 'setting',
    };
  }
  if (options.pythonExtension) {
    let fromExtension: string | undefined;
    try {
      fromExtension = await options.pythonExtension();
    } catch {
      fromExtension = undefined; // an extension failure must not stop the PATH fallback
    }
    if (fromExtension) return { command: [fromExtension], source: 'pythonExtension' };
  }
  return { command: [defaultPython(options.platform)], source: 'path' };
}

/** Works on Python 2 too, so that an old interpreter is reported as old rather than as broken. */
export const PROBE_SCRIPT = [
  'import sys',
  'try:',
  '    import importlib.util as u; found = u.find_spec("gradguard") is not None',
  'except Exception:',
  '    found = False',
  'sys.stdout.write("GRADGUARD_PROBE %d.%d.%d %d %s\\n" % (sys.version_info[0], sys.version_info[1], sys.version_info[2], int(found), sys.executable))',
].join('\n');

export interface ProbeResult {
  version: [number, number, number];
  executable: string;
  /** `import gradguard` would work without the bundled libraries. */
  hasGradguard: boolean;
}

/** Parses the probe's output; undefined if the marker line is missing or malformed. */
export function parseProbeOutput(stdout: string): ProbeResult | undefined {
  for (const line of stdout.split(/\r?\n/)) {
    const match = /^GRADGUARD_PROBE (\d+)\.(\d+)\.(\d+) ([01]) (.*)$/.exec(line.trim());
    if (match) {
      return {
        version: [Number(match[1]), Number(match[2]), Number(match[3])],
        hasGradguard: match[4] === '1',
        executable: match[5],
      };
    }
  }
  return undefined;
}

export function isSupportedVersion(version: readonly number[], minimum: readonly number[] = MIN_VERSION): boolean {
  for (let i = 0; i < minimum.length; i++) {
    const have = version[i] ?? 0;
    if (have !== minimum[i]) return have > minimum[i];
  }
  return true;
}

export function describeSource(choice: InterpreterChoice): string {
  switch (choice.source) {
    case 'setting':
      return 'from the gradguard.interpreter setting';
    case 'pythonExtension':
      return "the Python extension's selected environment";
    case 'path':
      return 'found on PATH';
  }
}

const FIX_INTERPRETER =
  'Set "gradguard.interpreter" to a Python 3.10 or newer executable (for example ["/usr/bin/python3"]), ' +
  'or select one with "Python: Select Interpreter", then run "GradGuard: Restart Server".';

/** How running the probe went, before any parsing. */
export interface RunOutcome {
  stdout: string;
  stderr: string;
  /** The spawn or exit error, if any (`code` is `ENOENT` when the program does not exist). */
  error?: { code?: string | number; message: string };
}

export type ProbeOutcome = { ok: true; probe: ProbeResult } | { ok: false; message: string };

/** Turns a probe run into either the facts or ONE user-facing sentence saying why and how to fix it. */
export function interpretProbe(choice: InterpreterChoice, outcome: RunOutcome): ProbeOutcome {
  const shown = choice.command.join(' ');
  const where = describeSource(choice);
  const probe = parseProbeOutput(outcome.stdout);
  if (!probe) {
    if (outcome.error?.code === 'ENOENT' || /ENOENT|not found|No such file/i.test(outcome.error?.message ?? '')) {
      return {
        ok: false,
        message: `GradGuard cannot start: the Python interpreter "${shown}" (${where}) does not exist. ${FIX_INTERPRETER}`,
      };
    }
    if (outcome.error?.code === 'EACCES') {
      return {
        ok: false,
        message: `GradGuard cannot start: "${shown}" (${where}) is not executable. ${FIX_INTERPRETER}`,
      };
    }
    const detail = (outcome.stderr || outcome.error?.message || outcome.stdout || 'no output').trim().split(/\r?\n/).slice(-1)[0];
    return {
      ok: false,
      message: `GradGuard cannot start: "${shown}" (${where}) did not run as Python (${detail}). ${FIX_INTERPRETER}`,
    };
  }
  if (!isSupportedVersion(probe.version)) {
    return {
      ok: false,
      message:
        `GradGuard cannot start: "${shown}" (${where}) is Python ${probe.version.join('.')}, ` +
        `but GradGuard needs Python ${MIN_VERSION.join('.')} or newer. ${FIX_INTERPRETER}`,
    };
  }
  return { ok: true, probe };
}

/** Runs `<command> -c PROBE_SCRIPT` (15 s at most). */
export function runProbe(choice: InterpreterChoice, env: NodeJS.ProcessEnv = process.env, timeoutMs = 15000): Promise<RunOutcome> {
  const [program, ...args] = choice.command;
  return new Promise((resolve) => {
    execFile(program, [...args, '-c', PROBE_SCRIPT], { env, timeout: timeoutMs, windowsHide: true }, (error, stdout, stderr) => {
      resolve({
        stdout: String(stdout ?? ''),
        stderr: String(stderr ?? ''),
        error: error ? { code: (error as NodeJS.ErrnoException).code, message: error.message } : undefined,
      });
    });
  });
}

export async function probeInterpreter(choice: InterpreterChoice, env?: NodeJS.ProcessEnv): Promise<ProbeOutcome> {
  return interpretProbe(choice, await runProbe(choice, env));
}
