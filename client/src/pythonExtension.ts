/**
 * Asks the Python extension (ms-python.python) for the active environment, when it is installed,
 * through its published API package `@vscode/python-extension` (types and `PythonExtension.api()`).
 */

import { PythonExtension } from '@vscode/python-extension';
import type * as vscode from 'vscode';

/** The Python extension's API, or undefined when it is not installed, disabled or failed to activate. */
async function api(): Promise<PythonExtension | undefined> {
  try {
    const python = await PythonExtension.api();
    return python?.environments ? python : undefined;
  } catch {
    return undefined;
  }
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
  const python = await api();
  return python?.environments.onDidChangeActiveEnvironmentPath(() => listener());
}
