import { createHash } from "node:crypto";
import type { Artifact } from "../emit/artifact.js";

/**
 * natgw.json, the index every build writes next to its files. It is also the
 * record of ownership: a rebuild touches exactly the files the previous index
 * lists, so the index must be one natgw wrote before natgw trusts it.
 */
export const INDEX_FILE = "natgw.json";

export interface IndexEntry {
  readonly path: string;
  readonly role: string;
  readonly gateway: string | null;
  readonly member: string | null;
  readonly mode: string;
  readonly sha256: string;
}

export function sha256(content: string | Buffer): string {
  return createHash("sha256").update(content).digest("hex");
}

/** Index entries for artifacts, in path order (byte order, so the same on every machine). */
export function indexEntries(artifacts: readonly Artifact[]): IndexEntry[] {
  return [...artifacts]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((artifact) => ({
      path: artifact.path,
      role: artifact.role,
      gateway: artifact.gateway,
      member: artifact.member,
      mode: artifact.fileMode,
      sha256: sha256(artifact.content),
    }));
}

export function renderIndex(entries: readonly IndexEntry[], version: string): string {
  return `${JSON.stringify({ generator: `natgw ${version}`, artifacts: entries }, null, 2)}\n`;
}

/** natgw.json: every artifact with its role, member, file mode and sha256, in path order. */
export function buildIndex(artifacts: readonly Artifact[], version: string): string {
  return renderIndex(indexEntries(artifacts), version);
}

/**
 * A relative path with `/` separators that stays inside the directory it is
 * joined to: no empty, `.` or `..` segment, no backslash or NUL, and not the
 * index itself. Paths from an index on disk are checked with this before natgw
 * removes anything they name.
 */
export function isSafeRelativePath(path: string): boolean {
  if (path === "" || path === INDEX_FILE || /[\\\0]/.test(path)) return false;
  return path.split("/").every((part) => part !== "" && part !== "." && part !== "..");
}

const ENTRY_KEYS = ["gateway", "member", "mode", "path", "role", "sha256"];

/**
 * Reads an existing natgw.json. Returns its entries when it has exactly the shape
 * natgw writes, or why it does not: a JSON spec or any other file that happens to
 * be named natgw.json must never make natgw delete what it seems to list.
 */
export function parseIndex(text: string): { entries: IndexEntry[] } | { problem: string } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { problem: "it is not JSON" };
  }
  if (!isRecord(data) || !sameKeys(data, ["artifacts", "generator"])) {
    return { problem: 'it is not an object with exactly "generator" and "artifacts"' };
  }
  if (typeof data.generator !== "string" || !data.generator.startsWith("natgw ")) {
    return { problem: 'its "generator" does not start with "natgw "' };
  }
  if (!Array.isArray(data.artifacts)) return { problem: '"artifacts" is not a list' };
  const seen = new Set<string>();
  for (const [position, entry] of data.artifacts.entries()) {
    const where = `artifacts[${position}]`;
    if (!isRecord(entry) || !sameKeys(entry, ENTRY_KEYS)) return { problem: `${where} does not have exactly the fields ${ENTRY_KEYS.join(", ")}` };
    if (typeof entry.path !== "string" || !isSafeRelativePath(entry.path)) return { problem: `${where}.path is not a safe relative path` };
    if (seen.has(entry.path)) return { problem: `${where}.path ${JSON.stringify(entry.path)} is listed twice` };
    seen.add(entry.path);
    if (typeof entry.role !== "string" || entry.role === "") return { problem: `${where}.role is not a name` };
    if (!isNameOrNull(entry.gateway) || !isNameOrNull(entry.member)) return { problem: `${where}.gateway or .member is neither a name nor null` };
    if (typeof entry.mode !== "string" || !/^0[0-7]{3}$/.test(entry.mode)) return { problem: `${where}.mode is not a file mode like "0644"` };
    if (typeof entry.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(entry.sha256)) return { problem: `${where}.sha256 is not a sha256` };
  }
  return { entries: data.artifacts as IndexEntry[] };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function sameKeys(value: Record<string, unknown>, keys: readonly string[]): boolean {
  const actual = Object.keys(value).sort();
  return actual.length === keys.length && actual.every((key, index) => key === keys[index]);
}

function isNameOrNull(value: unknown): boolean {
  return value === null || (typeof value === "string" && value !== "");
}
