import { compareText } from "../util/order.js";

/**
 * A problem in the user's spec, as data. Every stage collects these instead of
 * throwing, so one run reports every problem; a throw means a bug in natgw.
 */
export type Severity = "error" | "warning";

export interface SourceLocation {
  /** The file as the user named it. */
  readonly file: string;
  /** 1-based line. */
  readonly line: number;
  /** 1-based column. */
  readonly column: number;
  /** JSON pointer inside the document ("" is the whole document). */
  readonly pointer: string;
}

export interface Diagnostic extends SourceLocation {
  /** Stable code from the catalogue, e.g. NATGW201. */
  readonly code: string;
  readonly severity: Severity;
  /** What was found and what is allowed. */
  readonly message: string;
  /** How to fix it, when there is more to say than the message. */
  readonly hint?: string;
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === "error");
}

/** Orders by file, position, then code, so output never depends on check order. */
export function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort(
    (a, b) =>
      compareText(a.file, b.file) ||
      a.line - b.line ||
      a.column - b.column ||
      compareText(a.code, b.code) ||
      compareText(a.message, b.message),
  );
}
