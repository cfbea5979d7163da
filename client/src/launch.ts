/**
 * The server's command line and environment (pure: no `vscode` import).
 *
 * useBundled: `<python> -m gradguard server` with PYTHONPATH starting at the
 * extension's bundled/libs (gradguard, pygls, lsprotocol, attrs, cattrs, jedi, parso, ...),
 * so a user needs only Python. fromEnvironment: the same command with the
 * environment untouched, so the interpreter's own `pip install gradguard` runs.
 */

import * as path from 'node:path';
import type { ImportStrategy } from './settings';
import type { ProbeResult } from './python';

export interface Launch {
  command: string;
  args: string[];
  env: Record<string, string>;
}

export type LaunchOutcome = { ok: true; launch: Launch } | { ok: false; message: string };

export interface LaunchOptions {
  /** Interpreter command (executable + leading arguments). */
  interpreter: string[];
  importStrategy: ImportStrategy;
  /** Absolute path of the extension's bundled/libs. */
  bundledLibs: string;
  bundledLibsPresent: boolean;
  probe: ProbeResult;
  baseEnv: Record<string, string | undefined>;
  platform?: NodeJS.Platform;
}

export function serverLaunch(options: LaunchOptions): LaunchOutcome {
  const [command, ...leading] = options.interpreter;
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(options.baseEnv)) {
    if (value !== undefined) env[key] = value;
  }
  env.PYTHONUNBUFFERED = '1';
  // Python must not write bytecode into the (possibly read-only) extension folder.
  env.PYTHONDONTWRITEBYTECODE = '1';
  const shown = options.interpreter.join(' ');
  if (options.importStrategy === 'useBundled') {
    if (!options.bundledLibsPresent) {
      return {
        ok: false,
        message:
          `GradGuard cannot start: the bundled server is missing from ${options.bundledLibs}. ` +
          'Reinstall the GradGuard extension, or set "gradguard.importStrategy" to "fromEnvironment" and run ' +
          `"${shown} -m pip install gradguard".`,
      };
    }
    const separator = (options.platform ?? process.platform) === 'win32' ? ';' : path.delimiter;
    env.PYTHONPATH = env.PYTHONPATH ? `${options.bundledLibs}${separator}${env.PYTHONPATH}` : options.bundledLibs;
  } else if (!options.probe.hasGradguard) {
    return {
      ok: false,
      message:
        `GradGuard cannot start: "gradguard.importStrategy" is "fromEnvironment" but the gradguard package is not ` +
        `installed in ${options.probe.executable}. Run "${shown} -m pip install gradguard", or set ` +
        '"gradguard.importStrategy" to "useBundled".',
    };
  }
  return { ok: true, launch: { command, args: [...leading, '-m', 'gradguard', 'server'], env } };
}
