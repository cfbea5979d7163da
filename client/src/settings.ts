/**
 * Settings resolution for one workspace folder, and workspace-trust handling.
 *
 * Pure: no `vscode` import. The VS Code side passes a function that returns
 * `WorkspaceConfiguration.inspect(key)` for the folder (see config.ts), so this
 * module sees every layer (default, user, workspace, folder) and can decide
 * which layers count, which is what workspace trust needs: in an untrusted
 * workspace the workspace and folder values of `interpreter`, `path` and
 * `importStrategy` would let a cloned repository choose the program that runs,
 * so they are ignored (only the user's own value or the default applies).
 */

export const SECTION = 'gradguard';

export type ImportStrategy = 'useBundled' | 'fromEnvironment';
export type RunMode = 'onType' | 'onSave';
export type Severity = 'error' | 'warning' | 'information' | 'hint';
export type LogLevel = 'error' | 'warning' | 'info' | 'debug';
/** Which problems pop up (the vscode-python-tools template's values); the rest are logged. */
export type Notifications = 'off' | 'onError' | 'onWarning' | 'always';

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
export const RESTRICTED_KEYS: readonly string[] = ['interpreter', 'importStrategy', 'path'];

/** Settings whose change needs a new server process (the server re-reads the others itself). */
export const RESTART_KEYS: readonly string[] = ['interpreter', 'importStrategy', 'path'];

export interface FolderSettings {
  enable: boolean;
  interpreter: string[];
  importStrategy: ImportStrategy;
  /** A `gradguard` executable (and leading arguments) to run instead of `<python> -m gradguard`. */
  path: string[];
  args: string[];
  select: string[];
  ignore: string[];
  severity: Record<string, Severity>;
  exclude: string[];
  configuration: string;
  extraPaths: string[];
  run: RunMode;
  debounceMs: number;
  incremental: boolean;
  disableRuleComment: boolean;
  logLevel: LogLevel;
  showNotifications: Notifications;
  showSyntaxErrors: boolean;
}

export const DEFAULTS: FolderSettings = {
  enable: true,
  interpreter: [],
  importStrategy: 'useBundled',
  path: [],
  args: [],
  select: [],
  ignore: [],
  severity: {},
  exclude: [],
  configuration: '',
  extraPaths: [],
  run: 'onType',
  debounceMs: 300,
  incremental: true,
  disableRuleComment: true,
  logLevel: 'info',
  showNotifications: 'onWarning',
  showSyntaxErrors: true,
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
  path: isStringArray,
  args: isStringArray,
  select: isStringArray,
  ignore: isStringArray,
  severity: (v) =>
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    Object.values(v).every((s) => ['error', 'warning', 'information', 'hint'].includes(s as string)),
  exclude: isStringArray,
  configuration: (v) => typeof v === 'string',
  extraPaths: isStringArray,
  run: (v) => v === 'onType' || v === 'onSave',
  debounceMs: (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0,
  incremental: (v) => typeof v === 'boolean',
  disableRuleComment: (v) => typeof v === 'boolean',
  logLevel: (v) => ['error', 'warning', 'info', 'debug'].includes(v as string),
  showNotifications: (v) => ['off', 'onError', 'onWarning', 'always'].includes(v as string),
  showSyntaxErrors: (v) => typeof v === 'boolean',
};

/** The manifest key (under `gradguard.`) of each field. */
export const KEYS: { [K in keyof FolderSettings]: string } = {
  enable: 'enable',
  interpreter: 'interpreter',
  importStrategy: 'importStrategy',
  path: 'path',
  args: 'args',
  select: 'select',
  ignore: 'ignore',
  severity: 'severity',
  exclude: 'exclude',
  configuration: 'configuration',
  extraPaths: 'extraPaths',
  run: 'run',
  debounceMs: 'debounceMs',
  incremental: 'incremental',
  disableRuleComment: 'codeAction.disableRuleComment.enable',
  logLevel: 'logLevel',
  showNotifications: 'showNotifications',
  showSyntaxErrors: 'showSyntaxErrors',
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
  const nonBlank = (parts: string[]) => parts.map((part) => part.trim()).filter((part) => part.length > 0);
  result.interpreter = nonBlank(result.interpreter);
  result.path = nonBlank(result.path);
  result.configuration = result.configuration.trim();
  return { settings: result, ignoredUntrusted, problems };
}

/** Whether a message of `kind` pops up under `gradguard.showNotifications` (else it is only logged). */
export function showsNotification(setting: Notifications, kind: 'error' | 'warning' | 'info'): boolean {
  if (setting === 'always') return true;
  if (setting === 'onWarning') return kind !== 'info';
  return setting === 'onError' && kind === 'error';
}

/** What the language server understands (docs: server/gradguard/lsp/settings.py), as the
 * `gradguard` object of initializationOptions and of workspace/configuration answers.
 * Client-only keys (importStrategy, path, trace) are left out. Empty select/ignore mean
 * "not set" (the project's pyproject.toml decides); an empty configuration, the nearest one. */
export interface ServerSettings {
  enable: boolean;
  args: string[];
  select?: string[];
  ignore?: string[];
  severity: Record<string, Severity>;
  exclude: string[];
  configuration?: string;
  extraPaths: string[];
  run: RunMode;
  debounceMs: number;
  incremental: boolean;
  codeAction: { disableRuleComment: { enable: boolean } };
  logLevel: LogLevel;
  showNotifications: Notifications;
  showSyntaxErrors: boolean;
  interpreter?: string;
}

/** `${workspaceFolder}`, `${userHome}`, `${env:NAME}` and `~` in path-like values (python.ts). */
export type Expand = (value: string) => string;

export function toServerSettings(settings: FolderSettings, pythonExecutable?: string, expand: Expand = (v) => v): ServerSettings {
  const out: ServerSettings = {
    enable: settings.enable,
    args: settings.args.map(expand),
    severity: settings.severity,
    exclude: settings.exclude,
    extraPaths: settings.extraPaths.map(expand),
    run: settings.run,
    debounceMs: settings.debounceMs,
    incremental: settings.incremental,
    codeAction: { disableRuleComment: { enable: settings.disableRuleComment } },
    logLevel: settings.logLevel,
    showNotifications: settings.showNotifications,
    showSyntaxErrors: settings.showSyntaxErrors,
  };
  if (settings.select.length > 0) out.select = settings.select;
  if (settings.ignore.length > 0) out.ignore = settings.ignore;
  if (settings.configuration) out.configuration = expand(settings.configuration);
  // The server resolves imports (jedi) against this environment: the user's Python.
  if (pythonExecutable) out.interpreter = pythonExecutable;
  return out;
}

/** True when a configuration change needs the server process restarted. */
export function needsRestart(affects: (section: string) => boolean): boolean {
  return RESTART_KEYS.some((key) => affects(`${SECTION}.${key}`));
}
