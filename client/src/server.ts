/** The LanguageClient: `<python> -m gradguard server` over stdio. */

import * as vscode from 'vscode';
import {
  CloseAction,
  CloseHandlerResult,
  DocumentSelector,
  ErrorAction,
  ErrorHandlerResult,
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  ServerOptions,
} from 'vscode-languageclient/node';
import { readFolderSettings } from './config';
import type { Launch } from './launch';
import { expandVariables } from './python';
import { ServerSettings, toServerSettings } from './settings';

export const CLIENT_ID = 'gradguard';
export const CLIENT_NAME = 'GradGuard';

export const DOCUMENT_SELECTOR: DocumentSelector = [
  { scheme: 'file', language: 'python' },
  { scheme: 'untitled', language: 'python' },
  // Cells of Jupyter notebooks (the server declares notebookDocumentSync).
  { notebook: { notebookType: 'jupyter-notebook' }, language: 'python' },
  { notebook: { notebookType: 'interactive' }, language: 'python' },
];

export interface ClientHooks {
  /** The server process ended on its own (a crash); called once, the client is not restarted. */
  onCrash(message: string): void;
}

/** The `gradguard` settings the server gets for `scope` (a folder URI, or undefined for the window). */
export function serverSettingsFor(scope: vscode.Uri | undefined, pythonExecutable: string | undefined): ServerSettings {
  const folder = scope ? vscode.workspace.getWorkspaceFolder(scope) : undefined;
  const workspaceFolder = (folder ?? vscode.workspace.workspaceFolders?.[0])?.uri.fsPath;
  const expand = (value: string) => expandVariables(value, { workspaceFolder, env: process.env });
  return toServerSettings(readFolderSettings(folder?.uri ?? scope).settings, pythonExecutable, expand);
}

export function createClient(
  launch: Launch,
  /** The user's Python (jedi resolves imports against it); undefined: the server's own. */
  pythonExecutable: string | undefined,
  output: vscode.LogOutputChannel,
  hooks: ClientHooks,
): LanguageClient {
  const serverOptions: ServerOptions = {
    command: launch.command,
    args: launch.args,
    // No `transport`: TransportKind.stdio would append `--stdio`, which `gradguard server`
    // does not take; stdio is the default of an Executable.
    // `python -m` puts the working directory first on sys.path: start in the extension's own
    // dist/ folder, never in the workspace, so a workspace `gradguard/` or `argparse.py`
    // cannot shadow the server's modules (the server gets the folders from `initialize`).
    options: { env: launch.env, cwd: __dirname },
  };
  let reported = false;
  const folders = vscode.workspace.workspaceFolders ?? [];
  const clientOptions: LanguageClientOptions = {
    documentSelector: DOCUMENT_SELECTOR,
    outputChannel: output,
    traceOutputChannel: output,
    revealOutputChannelOn: RevealOutputChannelOn.Never,
    initializationOptions: {
      // The server reads the `gradguard` object (settings for the window / first folder);
      // `folders` carries every folder's settings for clients of the log, and the server
      // asks per folder with workspace/configuration anyway.
      gradguard: serverSettingsFor(folders[0]?.uri, pythonExecutable),
      folders: folders.map((folder) => ({ uri: folder.uri.toString(), settings: serverSettingsFor(folder.uri, pythonExecutable) })),
    },
    middleware: {
      workspace: {
        // Answer workspace/configuration for section "gradguard" with the resolved,
        // trust-filtered settings in the form the server understands.
        configuration: (params, token, next) => {
          const own = params.items.map((item) => item.section === 'gradguard');
          if (!own.some(Boolean)) return next(params, token);
          return params.items.map((item) =>
            item.section === 'gradguard'
              ? serverSettingsFor(item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined, pythonExecutable)
              : null,
          );
        },
      },
    },
    errorHandler: {
      error: (error, _message, count): ErrorHandlerResult => {
        output.error(`connection error: ${error.message}`);
        return { action: (count ?? 0) <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown, handled: true };
      },
      closed: (): CloseHandlerResult => {
        if (!reported) {
          reported = true;
          hooks.onCrash('GradGuard: the server stopped unexpectedly. See "GradGuard: Show Logs" for why, then run "GradGuard: Restart Server".');
        }
        return { action: CloseAction.DoNotRestart, handled: true };
      },
    },
  };
  return new LanguageClient(CLIENT_ID, CLIENT_NAME, serverOptions, clientOptions);
}
