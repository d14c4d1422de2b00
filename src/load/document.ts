import type { SourceLocation } from "../diagnostics/diagnostic.js";

export const API_VERSION = "natgw.dev/v1alpha1";
export const KINDS = ["NatGateway", "EgressNATPolicy"] as const;
export type Kind = (typeof KINDS)[number];

/** A spec file's text, as read from disk or handed to `compile` by a program. */
export interface SourceText {
  readonly path: string;
  readonly text: string;
}

export interface Position {
  readonly line: number;
  readonly column: number;
}

/** Where a node of the document starts: its value, and for a mapping entry its key. */
export interface NodePosition {
  readonly value: Position;
  readonly key?: Position;
  /**
   * A number as written, when it is too large to be read exactly (past 2^53
   * `9007199254740993` reads as ...992), so a message can quote what was typed.
   */
  readonly written?: string;
}

/** Where the nodes of a document are, by JSON pointer. */
export interface Positions {
  get(pointer: string): NodePosition | undefined;
}

/** One YAML or JSON document with a known kind, and where each of its nodes is. */
export interface SourceDocument {
  readonly file: string;
  /** 0-based position of the document in its file. */
  readonly index: number;
  readonly kind: Kind;
  readonly data: Readonly<Record<string, unknown>>;
  /** JSON pointer -> position, for every node in the document (worked out when first asked). */
  readonly positions: Positions;
}

export function escapePointerToken(token: string): string {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

export function unescapePointerToken(token: string): string {
  return token.replace(/~1/g, "/").replace(/~0/g, "~");
}

export function childPointer(pointer: string, token: string | number): string {
  return `${pointer}/${escapePointerToken(String(token))}`;
}

/**
 * The location of a JSON pointer in its document. A pointer to a node that is not
 * there (a missing field) falls back to the key of its nearest ancestor, so
 * "spec.security is missing X" points at `security:`; `key` prefers the position
 * of a mapping key over its value (an unknown field is its key).
 */
export function locate(
  document: Pick<SourceDocument, "file" | "positions">,
  pointer: string,
  prefer: "key" | "value" = "value",
): SourceLocation {
  let current = pointer;
  let fallback = false;
  for (;;) {
    const found = document.positions.get(current);
    if (found) {
      const position = (prefer === "key" || fallback) && found.key ? found.key : found.value;
      return { file: document.file, line: position.line, column: position.column, pointer };
    }
    if (current === "") return { file: document.file, line: 1, column: 1, pointer };
    current = current.slice(0, current.lastIndexOf("/"));
    fallback = true;
  }
}
