/** Activation, commands, the status item, and (re)starting the server. */

import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { LanguageClient, State } from 'vscode-languageclient/node';
import { primaryFolder, readFolderSettings } from './config';
import { serverLaunch } from './launch';
import { describeSource, expandVariables, probeInterpreter, selectInterpreter } from './python';
import { activeInterpreter, onDidChangeInterpreter } from './pythonExtension';
import { CLIENT_NAME, DOCUMENT_SELECTOR, createClient } from './server';
import { describePage, normaliseCode, pageCode } from './ruleDocs';
import { SECTION, needsRestart, showsNotification } from './settings';

const FIX_ALL_KIND = vscode.CodeActionKind.SourceFixAll.append('gradguard');

let output: vscode.LogOutputChannel;
let status: vscode.LanguageStatusItem;
let client: LanguageClient | undefined;
let extensionPath = '';
/** Serialises starts and stops: a restart waits for the previous one. */
let queue: Promise<void> = Promise.resolve();
let restartTimer: NodeJS.Timeout | undefined;
/** The last error shown, so the same problem is not shown again on every restart. */
let lastError: string | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  extensionPath = context.extensionPath;
  output = vscode.window.createOutputChannel(CLIENT_NAME, { log: true });
  status = vscode.languages.createLanguageStatusItem('gradguard.status', DOCUMENT_SELECTOR);
  status.name = CLIENT_NAME;
  status.text = 'GradGuard';
  status.command = { title: 'Show Logs', command: 'gradguard.showLogs' };
  context.subscriptions.push(output, status);

  context.subscriptions.push(
    vscode.commands.registerCommand('gradguard.restart', () => {
      lastError = undefined;
      return restart('command');
    }),
    vscode.commands.registerCommand('gradguard.showLogs', () => output.show()),
    vscode.commands.registerCommand('gradguard.fixAll', fixAll),
    vscode.commands.registerCommand('gradguard.showRuleDocumentation', (code?: unknown) =>
      showRuleDocumentation(context.extensionUri, code),
    ),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (needsRestart((section) => event.affectsConfiguration(section))) {
        scheduleRestart('gradguard.interpreter, gradguard.path or gradguard.importStrategy changed');
      } else if (event.affectsConfiguration(SECTION) && client?.state === State.Running) {
        // The server asks again (workspace/configuration) and re-checks open files.
        void client.sendNotification('workspace/didChangeConfiguration', { settings: null });
      }
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => scheduleRestart('the workspace is now trusted')),
    vscode.workspace.onDidChangeWorkspaceFolders(() => scheduleRestart('workspace folders changed')),
  );
  const pythonWatcher = await onDidChangeInterpreter(() => {
    if (readFolderSettings(primaryFolder()?.uri).settings.interpreter.length === 0) {
      scheduleRestart('the Python extension selected another environment');
    }
  });
  if (pythonWatcher) context.subscriptions.push(pythonWatcher);

  await restart('activation');
}

export async function deactivate(): Promise<void> {
  if (restartTimer) clearTimeout(restartTimer);
  await queue;
  await stopClient();
}

function scheduleRestart(reason: string): void {
  if (restartTimer) clearTimeout(restartTimer);
  restartTimer = setTimeout(() => {
    restartTimer = undefined;
    lastError = undefined;
    void restart(reason);
  }, 250);
}

function restart(reason: string): Promise<void> {
  queue = queue.then(async () => {
    output.info(`(re)starting the server: ${reason}`);
    await stopClient();
    await startClient();
  });
  return queue;
}

async function stopClient(): Promise<void> {
  const old = client;
  client = undefined;
  if (!old) return;
  try {
    await old.stop(2000);
  } catch (error) {
    output.warn(`stopping the server: ${String(error)}`);
  }
  await old.dispose(2000).catch(() => undefined);
}

function setStatus(severity: vscode.LanguageStatusSeverity, detail: string): void {
  status.severity = severity;
  status.detail = detail;
  status.text = severity === vscode.LanguageStatusSeverity.Error ? '$(error) GradGuard' : 'GradGuard';
}

/** ONE clear message: why the server cannot run and how to fix it (not repeated for the same cause). */
function showStartError(message: string): void {
  output.error(message);
  setStatus(vscode.LanguageStatusSeverity.Error, message);
  if (message === lastError) return;
  lastError = message;
  // gradguard.showNotifications "off": the status item and the log say it, no pop-up.
  if (!showsNotification(readFolderSettings(primaryFolder()?.uri).settings.showNotifications, 'error')) return;
  void vscode.window.showErrorMessage(message, 'Open Settings', 'Show Logs').then((choice) => {
    if (choice === 'Open Settings') void vscode.commands.executeCommand('workbench.action.openSettings', 'gradguard.interpreter');
    if (choice === 'Show Logs') output.show();
  });
}

async function startClient(): Promise<void> {
  const folder = primaryFolder();
  const resolution = readFolderSettings(folder?.uri);
  const settings = resolution.settings;
  for (const problem of resolution.problems) output.warn(problem);
  if (resolution.ignoredUntrusted.length > 0) {
    output.warn(
      `untrusted workspace: ignoring the workspace values of ${resolution.ignoredUntrusted.join(', ')} ` +
        '(trust the workspace to use them)',
    );
  }
  if (!settings.enable && (vscode.workspace.workspaceFolders ?? []).every((f) => !readFolderSettings(f.uri).settings.enable)) {
    output.info('gradguard.enable is false: the server is not started');
    setStatus(vscode.LanguageStatusSeverity.Information, 'disabled (gradguard.enable)');
    return;
  }

  setStatus(vscode.LanguageStatusSeverity.Information, 'starting');
  const choice = await selectInterpreter({
    setting: settings.interpreter,
    pythonExtension: () => activeInterpreter(folder?.uri),
    workspaceFolder: folder?.uri.fsPath,
  });
  output.info(`interpreter: ${choice.command.join(' ')} (${describeSource(choice)})`);
  const probed = await probeInterpreter(choice);
  if (!probed.ok && settings.path.length === 0) {
    showStartError(probed.message);
    return;
  }
  // With gradguard.path the server runs on its own Python; the probed one is only jedi's environment.
  const probe = probed.ok ? probed.probe : undefined;
  if (!probed.ok) output.warn(`${probed.message} (gradguard.path runs the server anyway; imports resolve against its own Python)`);
  if (probe) output.info(`python: ${probe.executable} ${probe.version.join('.')}; importStrategy: ${settings.importStrategy}`);

  const bundledLibs = vscode.Uri.joinPath(vscode.Uri.file(extensionPath), 'bundled', 'libs').fsPath;
  const launched = serverLaunch({
    interpreter: choice.command,
    path: settings.path.map((part) => expandVariables(part, { workspaceFolder: folder?.uri.fsPath, env: process.env })),
    importStrategy: settings.importStrategy,
    bundledLibs,
    bundledLibsPresent: fs.existsSync(`${bundledLibs}/gradguard`),
    probe,
    baseEnv: process.env,
  });
  if (!launched.ok) {
    showStartError(launched.message);
    return;
  }
  const launch = launched.launch;
  output.info(`server: ${launch.command} ${launch.args.join(' ')}`);

  let starting = true;
  let crashed = false;
  const next = createClient(launch, probe?.executable, output, {
    onCrash: (message) => {
      crashed = true;
      if (starting) return; // reported once by the start failure below
      showStartError(message);
    },
  });
  client = next;
  try {
    await next.start();
    starting = false;
    if (crashed) throw new Error('the server exited during start');
    lastError = undefined;
    setStatus(
      vscode.LanguageStatusSeverity.Information,
      settings.path.length > 0
        ? `${launch.command} (gradguard.path)`
        : `Python ${probe?.version.join('.')} (${settings.importStrategy === 'useBundled' ? 'bundled server' : 'server from the environment'})`,
    );
  } catch (error) {
    starting = false;
    if (client === next) client = undefined;
    const reason = error instanceof Error ? error.message : String(error);
    showStartError(
      `GradGuard cannot start: the server "${launch.command} ${launch.args.join(' ')}" failed (${reason}). ` +
        'See "GradGuard: Show Logs" for its output; check "gradguard.interpreter" and "gradguard.importStrategy", then run "GradGuard: Restart Server".',
    );
    await next.dispose(1000).catch(() => undefined);
  }
}

/** Code actions `vscode.executeCodeActionProvider` resolves (fix-all is the only lazy one). */
const FIX_ALL_RESOLVE_COUNT = 5;

/** Applies the server's `source.fixAll.gradguard` action to the active Python editor. */
async function fixAll(): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.document.languageId !== 'python') {
    void vscode.window.showInformationMessage('GradGuard: open a Python file to fix.');
    return;
  }
  const document = editor.document;
  const whole = new vscode.Range(0, 0, document.lineCount, 0);
  const actions =
    (await vscode.commands.executeCommand<vscode.CodeAction[]>(
      'vscode.executeCodeActionProvider',
      document.uri,
      whole,
      FIX_ALL_KIND.value,
      // The server sends fix-all without its edit; ask VS Code to resolve it.
      FIX_ALL_RESOLVE_COUNT,
    )) ?? [];
  const action = actions.find((candidate) => candidate.kind && FIX_ALL_KIND.contains(candidate.kind) && candidate.edit);
  if (!action?.edit) {
    void vscode.window.showInformationMessage('GradGuard: no safe fixes for this file.');
    return;
  }
  await vscode.workspace.applyEdit(action.edit);
}

/** Opens a rule's page (shipped in bundled/libs) as rendered Markdown; asks which rule when not given. */
async function showRuleDocumentation(extensionUri: vscode.Uri, requested?: unknown): Promise<void> {
  const pages = vscode.Uri.joinPath(extensionUri, 'bundled', 'libs', 'gradguard', 'rule_docs');
  let code = normaliseCode(requested);
  if (!code) {
    const entries = await vscode.workspace.fs.readDirectory(pages).then(undefined, () => []);
    const items: (vscode.QuickPickItem & { code: string })[] = [];
    for (const [fileName] of entries) {
      const found = pageCode(fileName);
      if (!found) continue;
      const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(vscode.Uri.joinPath(pages, fileName)));
      const page = describePage(found, text);
      items.push({ code: found, label: `${page.code} ${page.name}`, detail: page.summary });
    }
    items.sort((a, b) => a.code.localeCompare(b.code));
    code = (await vscode.window.showQuickPick(items, { placeHolder: 'GradGuard rule', matchOnDetail: true }))?.code;
    if (!code) return;
  }
  await vscode.commands.executeCommand('markdown.showPreview', vscode.Uri.joinPath(pages, `${code}.md`));
}
