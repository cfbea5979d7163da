/**
 * The rule pages shipped in the VSIX (bundled/libs/gradguard/rule_docs/GGNNN.md, the same
 * pages the server's diagnostics and hovers link to): which ones there are, for the
 * "GradGuard: Show Rule Documentation" picker. Pure: no `vscode` import.
 */

export interface RulePage {
  code: string;
  /** The rule's name, e.g. `none-assigned-to-parameter`. */
  name: string;
  /** The first sentence of the page. */
  summary: string;
}

const CODE = /^GG\d{3}$/;

/** The code of a page's file name (`GG201.md` -> `GG201`), or undefined for any other file. */
export function pageCode(fileName: string): string | undefined {
  const code = fileName.replace(/\.md$/, '');
  return fileName.endsWith('.md') && CODE.test(code) ? code : undefined;
}

/** Reads a page's heading ``# GG201 `name` `` and the sentence after it. */
export function describePage(code: string, markdown: string): RulePage {
  const lines = markdown.split(/\r?\n/);
  const heading = lines.find((line) => line.startsWith('# ')) ?? '';
  const name = /`([^`]+)`/.exec(heading)?.[1] ?? '';
  const start = lines.indexOf(heading);
  const summary = lines.slice(start + 1).find((line) => line.trim().length > 0) ?? '';
  return { code, name, summary: summary.trim() };
}

/** A code typed or passed by a link (`gg201`, ` GG201 `) in canonical form, or undefined. */
export function normaliseCode(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const code = value.trim().toUpperCase();
  return CODE.test(code) ? code : undefined;
}
