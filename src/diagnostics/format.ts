import type { Diagnostic } from "./diagnostic.js";

export interface Style {
  readonly bold: (text: string) => string;
  readonly red: (text: string) => string;
  readonly yellow: (text: string) => string;
  readonly dim: (text: string) => string;
}

const identity = (text: string) => text;
export const plain: Style = { bold: identity, red: identity, yellow: identity, dim: identity };
export const ansi: Style = {
  bold: (text) => `\u001b[1m${text}\u001b[22m`,
  red: (text) => `\u001b[31m${text}\u001b[39m`,
  yellow: (text) => `\u001b[33m${text}\u001b[39m`,
  dim: (text) => `\u001b[2m${text}\u001b[22m`,
};

/** `file:line:col: error: message; hint (/pointer)`, one line per diagnostic. */
export function formatText(diagnostics: readonly Diagnostic[], style: Style = plain): string {
  return diagnostics.map((d) => formatOne(d, style)).join("\n") + (diagnostics.length ? "\n" : "");
}

function formatOne(d: Diagnostic, style: Style): string {
  const severity = d.severity === "error" ? style.red(`${d.severity}:`) : style.yellow(`${d.severity}:`);
  const hint = d.hint ? `; ${d.hint}` : "";
  // File-level problems (unreadable, empty, syntax) have no place inside a document.
  const pointer = d.pointer ? ` ${style.dim(`(${d.pointer})`)}` : "";
  return `${style.bold(`${d.file}:${d.line}:${d.column}:`)} ${severity} ${d.message}${hint}${pointer}`;
}

/** The same diagnostics as a JSON array, in the same order. */
export function formatJson(diagnostics: readonly Diagnostic[]): string {
  return `${JSON.stringify(diagnostics.map(jsonFields), null, 2)}\n`;
}

function jsonFields(d: Diagnostic) {
  return {
    file: d.file,
    line: d.line,
    column: d.column,
    severity: d.severity,
    code: d.code,
    message: d.message,
    hint: d.hint ?? null,
    pointer: d.pointer,
  };
}

export function summary(diagnostics: readonly Diagnostic[]): string {
  const errors = diagnostics.filter((d) => d.severity === "error").length;
  const warnings = diagnostics.length - errors;
  return `${errors} error${errors === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"}`;
}
