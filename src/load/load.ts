import { CORE_SCHEMA, loadAll } from "js-yaml";
import { LineCounter, isScalar, type Node as YamlNode } from "yaml";
import { diagnose } from "../diagnostics/catalogue.js";
import type { Diagnostic, SourceLocation } from "../diagnostics/diagnostic.js";
import { count, describeType, quote } from "../diagnostics/quote.js";
import { closest } from "../diagnostics/suggest.js";
import { API_VERSION, KINDS, locate, type Kind, type NodePosition, type SourceDocument, type SourceText } from "./document.js";
import { MAX_NESTING_DEPTH, scanNesting } from "./nesting.js";
import { lazyPositions, parseYaml, recordPositions } from "./yaml.js";

/** Spec files are small; a 16 MiB limit still holds 50,000 policies and refuses a runaway file early. */
export const MAX_FILE_BYTES = 16 * 1024 * 1024;

/**
 * YAML aliases may expand to at most this many nodes. A legitimate spec uses a few
 * (a shared label set); an alias bomb needs millions, and is refused before it
 * expands, in milliseconds.
 */
export const MAX_ALIAS_EXPANSIONS = 1000;

export interface LoadResult {
  readonly documents: SourceDocument[];
  readonly diagnostics: Diagnostic[];
}

/** files -> documents with source positions. Pure: the caller reads the files. */
export function load(sources: readonly SourceText[]): LoadResult {
  const documents: SourceDocument[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const source of sources) {
    const result = loadFile(source);
    documents.push(...result.documents);
    diagnostics.push(...result.diagnostics);
  }
  return { documents, diagnostics };
}

function loadFile(source: SourceText): LoadResult {
  const file = source.path;
  const at = (line = 1, column = 1, pointer = ""): SourceLocation => ({ file, line, column, pointer });
  const bytes = Buffer.byteLength(source.text, "utf8");
  if (bytes > MAX_FILE_BYTES) {
    return { documents: [], diagnostics: [diagnose("fileTooLarge", { bytes: count(bytes), limit: count(MAX_FILE_BYTES) }, at())] };
  }
  const text = source.text.replace(/^\uFEFF/, "");
  // Before any parser: every reader after this point recurses once per level.
  const nesting = scanNesting(text);
  if (nesting.tooDeepAt !== undefined) {
    const { line, column } = offsetToPosition(text, nesting.tooDeepAt);
    return { documents: [], diagnostics: [diagnose("nestingTooDeep", { limit: MAX_NESTING_DEPTH }, at(line, column))] };
  }
  const lineCounter = new LineCounter();
  const positionOf = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };

  if (file.toLowerCase().endsWith(".json")) {
    const jsonError = strictJsonError(text);
    if (jsonError) {
      // LineCounter only learns line starts while parsing, so count them here.
      const { line, column } = offsetToPosition(text, jsonError.offset);
      return { documents: [], diagnostics: [diagnose("jsonSyntax", { detail: jsonError.detail }, at(line, column))] };
    }
  }

  const fast = isPlainYaml(file, text) ? quickLoad(file, text) : undefined;
  if (fast) return fast;

  const yamlDocuments = parseYaml(text, lineCounter);
  const documents: SourceDocument[] = [];
  const diagnostics: Diagnostic[] = [];
  let nonEmpty = 0;

  yamlDocuments.forEach((yamlDocument, index) => {
    if (isEmptyDocument(yamlDocument.contents)) return;
    nonEmpty += 1;
    const errors = yamlDocument.errors;
    // One slip often trips several parser rules at the same spot; the first says it.
    const reportedAt = new Set<number>();
    for (const error of errors) {
      if (reportedAt.has(error.pos[0])) continue;
      reportedAt.add(error.pos[0]);
      const { line, column } = positionOf(error.pos[0]);
      const detail = error.message.replace(/ at line \d+, column \d+.*$/s, "");
      diagnostics.push(
        error.code === "DUPLICATE_KEY"
          ? diagnose("duplicateKey", { key: duplicateKeyName(text, error.pos) }, at(line, column))
          : diagnose("yamlSyntax", { detail }, at(line, column)),
      );
    }
    for (const warning of yamlDocument.warnings) {
      const { line, column } = positionOf(warning.pos[0]);
      diagnostics.push(diagnose("yamlWarning", { detail: warning.message.replace(/ at line \d+.*$/s, "") }, at(line, column)));
    }
    if (errors.length > 0) return;

    const contents = yamlDocument.contents as YamlNode;
    const start = positionOf(contents.range?.[0] ?? 0);
    let data: unknown;
    try {
      data = yamlDocument.toJS({ maxAliasCount: MAX_ALIAS_EXPANSIONS });
    } catch (error) {
      if (error instanceof ReferenceError && /alias/i.test(error.message)) {
        diagnostics.push(diagnose("aliasBomb", { limit: MAX_ALIAS_EXPANSIONS }, at(start.line, start.column)));
        return;
      }
      throw error;
    }

    if (data === null || typeof data !== "object" || Array.isArray(data)) {
      diagnostics.push(diagnose("notAMapping", { found: describeType(data) }, at(start.line, start.column)));
      return;
    }
    const positions = new Map<string, NodePosition>();
    recordPositions(contents, "", positions, positionOf);
    const record = data as Record<string, unknown>;
    const kind = checkHeader(record, (pointer) => locate({ file, positions }, pointer), diagnostics);
    if (kind) documents.push({ file, index, kind, data: record, positions });
  });

  if (nonEmpty === 0 && diagnostics.length === 0) diagnostics.push(diagnose("fileEmpty", {}, at()));
  return { documents, diagnostics };
}

/**
 * Most specs are valid, and a valid spec needs no source positions: its data
 * carries it through. js-yaml reads YAML 1.2 data several times faster than the
 * yaml library builds its syntax tree (a 2 MB spec of 10,000 policies: 0.4 s
 * against 2.4 s), so a plain YAML file is read with js-yaml first, and the yaml
 * library reads it again only when something asks where a node is: a diagnostic.
 * Whatever js-yaml refuses or reads in a way the yaml library might not (an empty
 * document, anything but mappings) goes the yaml library's way from the start, so
 * every YAML diagnostic still comes from one parser.
 */
function quickLoad(file: string, text: string): LoadResult | undefined {
  let values: unknown[];
  try {
    values = loadAll(text, { schema: CORE_SCHEMA, filename: file });
  } catch {
    return undefined;
  }
  if (values.length === 0 || values.some((value) => value === null || typeof value !== "object" || Array.isArray(value))) return undefined;
  const positions = lazyPositions(text);
  const documents: SourceDocument[] = [];
  const diagnostics: Diagnostic[] = [];
  values.forEach((value, index) => {
    const record = value as Record<string, unknown>;
    const documentPositions = positions(index);
    const kind = checkHeader(record, (pointer) => locate({ file, positions: documentPositions }, pointer), diagnostics);
    if (kind) documents.push({ file, index, kind, data: record, positions: documentPositions });
  });
  return { documents, diagnostics };
}

/**
 * YAML whose every reading agrees between js-yaml and the yaml library: no
 * directives (%YAML 1.1 would change the schema), tags, anchors, aliases (alias
 * expansion is guarded in the yaml library), explicit `?` keys or `__proto__`.
 * Telling these apart needs no parser: a file merely mentioning such a character
 * in the wrong place is read the slow way, which is always right.
 */
function isPlainYaml(file: string, text: string): boolean {
  if (file.toLowerCase().endsWith(".json")) return false;
  return !/^%|(?:^|[\s[\]{},:?-])[!&*]|(?:^|[\s[{,])\?(?:\s|$)|__proto__/m.test(text);
}

/** A `---` with nothing after it, or a file of comments, is no document. */
function isEmptyDocument(contents: unknown): boolean {
  if (contents === null || contents === undefined) return true;
  return isScalar(contents) && contents.value === null && (contents as { source?: string }).source === "";
}

function checkHeader(
  data: Record<string, unknown>,
  locationOf: (pointer: string) => SourceLocation,
  diagnostics: Diagnostic[],
): Kind | undefined {
  let ok = true;
  if (!("apiVersion" in data)) {
    diagnostics.push(diagnose("missingApiVersion", {}, locationOf("")));
    ok = false;
  } else if (data.apiVersion !== API_VERSION) {
    diagnostics.push(diagnose("unknownApiVersion", { found: quote(data.apiVersion) }, locationOf("/apiVersion")));
    ok = false;
  }
  if (!("kind" in data)) {
    diagnostics.push(diagnose("missingKind", {}, locationOf("")));
    return undefined;
  }
  const kind = data.kind;
  if (typeof kind !== "string" || !(KINDS as readonly string[]).includes(kind)) {
    const suggestion = typeof kind === "string" ? closest(kind, KINDS) : undefined;
    diagnostics.push(diagnose("unknownKind", { found: quote(kind), ...(suggestion ? { suggestion } : {}) }, locationOf("/kind")));
    return undefined;
  }
  return ok ? (kind as Kind) : undefined;
}

/** The key the parser flagged: its text from the flagged offset up to the `:` (quoted keys whole). */
function duplicateKeyName(text: string, range: [number, number]): string {
  const match = /^("(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[^:\n]+)/.exec(text.slice(range[0], range[0] + 200));
  const raw = match?.[1]?.trim() ?? "";
  return quote(/^["']/.test(raw) ? raw.slice(1, -1) : raw);
}

function strictJsonError(text: string): { detail: string; offset: number } | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch (error) {
    const message = (error as Error).message;
    const match = /at position (\d+)/.exec(message);
    const offset = match ? Number(match[1]) : text.length;
    const detail = message.replace(/,? ?(in JSON )?at position \d+.*$/s, "").replace(/ in JSON$/, "") || "invalid JSON";
    return { detail, offset };
  }
}

function offsetToPosition(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line += 1;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}
