/** The VS Code side of settings.ts: reads `inspect()` per folder and the trust state. */

import * as vscode from 'vscode';
import { FolderResolution, SECTION, resolveFolderSettings } from './settings';

export function readFolderSettings(scope: vscode.ConfigurationScope | undefined): FolderResolution {
  const configuration = vscode.workspace.getConfiguration(SECTION, scope);
  return resolveFolderSettings((key) => configuration.inspect(key), vscode.workspace.isTrusted);
}

/** The folder whose interpreter and importStrategy start the (single) server: the first one. */
export function primaryFolder(): vscode.WorkspaceFolder | undefined {
  return vscode.workspace.workspaceFolders?.[0];
}
