/** Asks the Python extension (ms-python.python) for the active environment, when it is installed. */

import * as vscode from 'vscode';

const PYTHON_EXTENSION_ID = 'ms-python.python';

interface EnvironmentPath {
  id: string;
  path: string;
}

interface ResolvedEnvironment {
  executable: { uri?: vscode.Uri };
}

/** The part of the Python extension's public API (`@vscode/python-extension`) used here. */
interface PythonExtensionApi {
  environments: {
    getActiveEnvironmentPath(resource?: vscode.Uri | vscode.WorkspaceFolder): EnvironmentPath;
    resolveEnvironment(environment: EnvironmentPath | string): Promise<ResolvedEnvironment | undefined>;
    onDidChangeActiveEnvironmentPath: vscode.Event<unknown>;
  };
}

async function api(): Promise<PythonExtensionApi | undefined> {
  const extension = vscode.extensions.getExtension<PythonExtensionApi>(PYTHON_EXTENSION_ID);
  if (!extension) return undefined;
  if (!extension.isActive) await extension.activate();
  return extension.exports?.environments ? extension.exports : undefined;
}

/** The active environment's executable for `resource`, or undefined (not installed, none selected). */
export async function activeInterpreter(resource?: vscode.Uri): Promise<string | undefined> {
  const python = await api();
  if (!python) return undefined;
  const active = python.environments.getActiveEnvironmentPath(resource);
  const resolved = await python.environments.resolveEnvironment(active);
  return resolved?.executable.uri?.fsPath ?? active?.path;
}

/** Calls `listener` when the user selects another environment (no-op without the Python extension). */
export async function onDidChangeInterpreter(listener: () => void): Promise<vscode.Disposable | undefined> {
  try {
    const python = await api();
    return python?.environments.onDidChangeActiveEnvironmentPath(() => listener());
  } catch {
    return undefined;
  }
}
