/**
 * Settings resolution for one workspace folder, and workspace-trust handling.
 *
 * Pure: no `vscode` import. The VS Code side passes a function that returns
 * `WorkspaceConfiguration.inspect(key)` for the folder (see config.ts), so this
 * module sees every layer (default, user, workspace, folder) and can decide
 * which layers count, which is what workspace trust needs: in an untrusted
 * workspace the workspace and folder values of `interpreter` and
 * `importStrategy` would let a cloned repository choose the program that runs,
 * so they are ignored (only the user's own value or the default applies).
 */

export const SECTION = 'gradguard';

export type ImportStrategy = 'useBundled' | 'fromEnvironment';
export type RunMode = 'onType' | 'onSave';
export type Severity = 'error' | 'warning' | 'information' | 'hint';

/** The subset of `vscode.WorkspaceConfiguration.inspect()` results this module reads. */
export interface Inspection<T> {
  defaultValue?: T;
  globalValue?: T;
  workspaceValue?: T;
  workspaceFolderValue?: T;
}

/** `(key) => configuration.inspect(key)` for one folder (key relative to `gradguard.`). */
export type Inspector = (key: string) => Inspection<unknown> | undefined;

/** Settings that may only come from the user (or the default) in an untrusted workspace. */
export const RESTRICTED_KEYS: readonly string[] = ['interpreter', 'importStrategy'];

/** Settings whose change needs a new server process (the server re-reads the others itself). */
export const RESTART_KEYS: readonly string[] = ['interpreter', 'importStrategy'];

export interface FolderSettings {
  enable: boolean;
  interpreter: string[];
  importStrategy: ImportStrategy;
  select: string[];
  ignore: string[];
  severity: Record<string, Severity>;
  run: RunMode;
  debounceMs: number;
  incremental: boolean;
  disableRuleComment: boolean;
}

export const DEFAULTS: FolderSettings = {
  enable: true,
  interpreter: [],
  importStrategy: 'useBundled',
  select: [],
  ignore: [],
  severity: {},
  run: 'onType',
  debounceMs: 300,
  incremental: true,
  disableRuleComment: true,
};

export interface Resolved<T> {
  value: T;
  /** The layer the value came from. */
  source: 'default' | 'user' | 'workspace' | 'workspaceFolder';
  /** Set when a workspace or folder value exists but was ignored because the workspace is untrusted. */
  ignoredUntrusted?: 'workspace' | 'workspaceFolder';
}

/** The effective value of one setting: folder over workspace over user over default,
 * except that restricted settings skip the workspace layers when `trusted` is false. */
export function resolveValue<T>(
  inspection: Inspection<T> | undefined,
  fallback: T,
  options: { trusted: boolean; restricted: boolean },
): Resolved<T> {
  const skipWorkspace = options.restricted && !options.trusted;
  let ignored: Resolved<T>['ignoredUntrusted'];
  if (inspection?.workspaceFolderValue !== undefined) {
    if (!skipWorkspace) return { value: inspection.workspaceFolderValue, source: 'workspaceFolder' };
    ignored = 'workspaceFolder';
  }
  if (inspection?.workspaceValue !== undefined) {
    if (!skipWorkspace) return { value: inspection.workspaceValue, source: 'workspace' };
    ignored ??= 'workspace';
  }
  const withIgnored = (r: Resolved<T>): Resolved<T> => (ignored ? { ...r, ignoredUntrusted: ignored } : r);
  if (inspection?.globalValue !== undefined) return withIgnored({ value: inspection.globalValue, source: 'user' });
  if (inspection?.defaultValue !== undefined) return withIgnored({ value: inspection.defaultValue, source: 'default' });
  return withIgnored({ value: fallback, source: 'default' });
}

export interface FolderResolution {
  settings: FolderSettings;
  /** `gradguard.*` keys whose workspace value was ignored because the workspace is untrusted. */
  ignoredUntrusted: string[];
  /** Values of the wrong type, replaced by the default (one line each, naming the key). */
  problems: string[];
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

const CHECKS: { [K in keyof FolderSettings]: (value: unknown) => boolean } = {
  enable: (v) => typeof v === 'boolean',
  interpreter: isStringArray,
  importStrategy: (v) => v === 'useBundled' || v === 'fromEnvironment',
  select: isStringArray,
  ignore: isStringArray,
  severity: (v) =>
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    Object.values(v).every((s) => ['error', 'warning', 'information', 'hint'].includes(s as string)),
  run: (v) => v === 'onType' || v === 'onSave',
  debounceMs: (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0,
  incremental: (v) => typeof v === 'boolean',
  disableRuleComment: (v) => typeof v === 'boolean',
};

/** The manifest key (under `gradguard.`) of each field. */
export const KEYS: { [K in keyof FolderSettings]: string } = {
  enable: 'enable',
  interpreter: 'interpreter',
  importStrategy: 'importStrategy',
  select: 'select',
  ignore: 'ignore',
  severity: 'severity',
  run: 'run',
  debounceMs: 'debounceMs',
  incremental: 'incremental',
  disableRuleComment: 'codeAction.disableRuleComment.enable',
};

/** Every GradGuard setting of one folder, with trust applied and wrong types replaced by defaults. */
export function resolveFolderSettings(inspect: Inspector, trusted: boolean): FolderResolution {
  const settings = { ...DEFAULTS } as Record<keyof FolderSettings, unknown>;
  const ignoredUntrusted: string[] = [];
  const problems: string[] = [];
  for (const field of Object.keys(KEYS) as (keyof FolderSettings)[]) {
    const key = KEYS[field];
    const resolved = resolveValue(inspect(key), DEFAULTS[field] as unknown, {
      trusted,
      restricted: RESTRICTED_KEYS.includes(key),
    });
    if (resolved.ignoredUntrusted) ignoredUntrusted.push(`${SECTION}.${key}`);
    let value = resolved.value;
    // "${workspaceFolder}/x" style strings and leading/trailing blanks are for python.ts;
    // here only the type is checked.
    if (!CHECKS[field](value)) {
      if (value !== null && value !== undefined) {
        problems.push(`${SECTION}.${key}: ${JSON.stringify(value)} is not valid; using ${JSON.stringify(DEFAULTS[field])}`);
      }
      value = DEFAULTS[field];
    }
    settings[field] = value;
  }
  const result = settings as unknown as FolderSettings;
  result.interpreter = result.interpreter.map((part) => part.trim()).filter((part) => part.length > 0);
  return { settings: result, ignoredUntrusted, problems };
}

/** What the language server understands (docs: server/gradguard/lsp/settings.py), as the
 * `gradguard` object of initializationOptions and of workspace/configuration answers.
 * Client-only keys (importStrategy, trace) are left out: the server would report them as
 * unknown. Empty select/ignore mean "not set" (the project's pyproject.toml decides). */
export interface ServerSettings {
  enable: boolean;
  select?: string[];
  ignore?: string[];
  severity: Record<string, Severity>;
  run: RunMode;
  debounceMs: number;
  incremental: boolean;
  codeAction: { disableRuleComment: { enable: boolean } };
  interpreter?: string;
}

export function toServerSettings(settings: FolderSettings, pythonExecutable?: string): ServerSettings {
  const out: ServerSettings = {
    enable: settings.enable,
    severity: settings.severity,
    run: settings.run,
    debounceMs: settings.debounceMs,
    incremental: settings.incremental,
    codeAction: { disableRuleComment: { enable: settings.disableRuleComment } },
  };
  if (settings.select.length > 0) out.select = settings.select;
  if (settings.ignore.length > 0) out.ignore = settings.ignore;
  // The server resolves imports (jedi) against this environment: the user's Python.
  if (pythonExecutable) out.interpreter = pythonExecutable;
  return out;
}

/** True when a configuration change needs the server process restarted. */
export function needsRestart(affects: (section: string) => boolean): boolean {
  return RESTART_KEYS.some((key) => affects(`${SECTION}.${key}`));
}
