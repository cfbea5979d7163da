/**
 * The server's command line and environment (pure: no `vscode` import).
 *
 * useBundled: `<python> -m gradguard server` with PYTHONPATH starting at the
 * extension's bundled/libs (gradguard, pygls, lsprotocol, attrs, cattrs, jedi, parso, ...),
 * so a user needs only Python. fromEnvironment: the same command with the
 * environment untouched, so the interpreter's own installed gradguard (the README's wheel) runs.
 * gradguard.path: `<path> server`, the environment untouched (importStrategy does not apply).
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
  /** `gradguard.path`: a `gradguard` executable (+ leading arguments) run as `<path> server`; empty: none. */
  path?: string[];
  importStrategy: ImportStrategy;
  /** Absolute path of the extension's bundled/libs. */
  bundledLibs: string;
  bundledLibsPresent: boolean;
  /** The interpreter's probe; undefined when it failed and `path` runs the server anyway. */
  probe?: ProbeResult;
  baseEnv: Record<string, string | undefined>;
  platform?: NodeJS.Platform;
}

/** GradGuard is not on a package index yet: the documented route is the wheel that
 * scripts/release.sh builds (README, "Install in your project"). */
export function installAdvice(interpreter: string): string {
  return `install the GradGuard wheel into it: "${interpreter} -m pip install dist/gradguard-*-py3-none-any.whl" (built by scripts/release.sh; see "Install in your project" in the README)`;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
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
  if (options.path && options.path.length > 0) {
    // The user's own gradguard (pipx, uv tool, a venv): it brings its own libraries.
    const [program, ...leadingArgs] = options.path;
    return { ok: true, launch: { command: program, args: [...leadingArgs, 'server'], env } };
  }
  if (options.importStrategy === 'useBundled') {
    if (!options.bundledLibsPresent) {
      return {
        ok: false,
        message:
          `GradGuard cannot start: the bundled server is missing from ${options.bundledLibs}. ` +
          'Reinstall the GradGuard extension, or set "gradguard.importStrategy" to "fromEnvironment" and ' +
          `${installAdvice(shown)}.`,
      };
    }
    const separator = (options.platform ?? process.platform) === 'win32' ? ';' : path.delimiter;
    env.PYTHONPATH = env.PYTHONPATH ? `${options.bundledLibs}${separator}${env.PYTHONPATH}` : options.bundledLibs;
  } else if (!options.probe?.hasGradguard) {
    return {
      ok: false,
      message:
        `GradGuard cannot start: "gradguard.importStrategy" is "fromEnvironment" but the gradguard package is not ` +
        `installed in ${options.probe?.executable ?? shown}. ${capitalise(installAdvice(shown))}, or set ` +
        '"gradguard.importStrategy" to "useBundled".',
    };
  }
  return { ok: true, launch: { command, args: [...leading, '-m', 'gradguard', 'server'], env } };
}
