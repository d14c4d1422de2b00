import type * as nodeFs from "node:fs";
import { dirname, join, resolve, sep } from "node:path";
import type { Artifact } from "../emit/artifact.js";
import { attempt, OutputError } from "./fs-errors.js";
import { INDEX_FILE, parseIndex, sha256, type IndexEntry } from "./index-file.js";

/** The file system calls the write stage makes; tests pass one that fails on purpose. */
export type FileSystem = Pick<
  typeof nodeFs,
  "lstatSync" | "readFileSync" | "realpathSync" | "readlinkSync" | "mkdirSync" | "mkdtempSync" | "writeFileSync" | "chmodSync" | "renameSync" | "unlinkSync" | "rmdirSync" | "rmSync"
>;

/** What a build will do to the output directory, worked out before anything is written. */
export interface Plan {
  /** The output directory, absolute. */
  readonly target: string;
  readonly exists: boolean;
  /** The previous natgw.json, bytes and mode, to put back if the build fails. */
  readonly previousIndex: { readonly bytes: Buffer; readonly mode: string } | null;
  readonly previousEntries: readonly IndexEntry[];
  /** Files the previous build wrote that this one writes again. */
  readonly replaced: readonly string[];
  /** Files the previous build wrote that this one no longer has. */
  readonly stale: readonly string[];
  /** Replaced or stale files whose content is not what natgw wrote. */
  readonly edited: readonly string[];
  /** Directories inside the output to create, parents first. */
  readonly missingDirectories: readonly string[];
}

type Kind = "absent" | "file" | "directory" | "symbolic link" | "special file";

const MAX_LISTED = 10;

/**
 * Checks everything that could make a build touch what natgw does not own, and
 * reads nothing but metadata, the old index and the files it lists. A refusal
 * here leaves the directory exactly as it was.
 */
export function planOutput(outDir: string, artifacts: readonly Artifact[], inputs: readonly string[], fs: FileSystem): Plan {
  const target = resolve(outDir);
  const show = (path: string) => (path === "" ? outDir : join(outDir, path));
  const kindOf = (path: string): Kind => {
    const stats = attempt(`reading ${path}`, () => fs.lstatSync(path, { throwIfNoEntry: false }));
    if (stats === undefined) return "absent";
    if (stats.isFile()) return "file";
    if (stats.isDirectory()) return "directory";
    return stats.isSymbolicLink() ? "symbolic link" : "special file";
  };

  const outKind = kindOf(target);
  if (outKind === "symbolic link") {
    const to = linkTarget(fs, target);
    throw new OutputError(`${outDir} is a symbolic link to ${to}; natgw writes only into a real directory, so that what it owns is where --out says: pass --out ${to}`);
  }
  if (outKind !== "absent" && outKind !== "directory") throw new OutputError(`${outDir} exists and is a ${outKind}, not a directory`);
  const exists = outKind === "directory";

  const outReal = realPathOf(fs, target, kindOf);
  const inside = inputs.filter((input) => {
    const real = realPathOrNull(fs, resolve(input));
    return real !== null && real.startsWith(outReal.endsWith(sep) ? outReal : outReal + sep);
  });
  if (inside.length > 0) {
    throw new OutputError(
      `the spec file ${inside.join(", ")} is inside ${outDir}, where natgw replaces and removes files; keep specs outside the output directory, or choose another --out`,
    );
  }

  const kinds = new Map<string, Kind>();
  const kindAt = (path: string): Kind => {
    if (!exists) return "absent";
    let kind = kinds.get(path);
    if (kind === undefined) {
      const parent = path.includes("/") ? kindAt(path.slice(0, path.lastIndexOf("/"))) : "directory";
      kind = parent === "directory" ? kindOf(join(target, path)) : "absent";
      kinds.set(path, kind);
    }
    return kind;
  };

  let previousIndex: Plan["previousIndex"] = null;
  let previousEntries: readonly IndexEntry[] = [];
  const indexKind = kindAt(INDEX_FILE);
  if (indexKind !== "absent") {
    const bytes = indexKind === "file" ? attempt(`reading ${show(INDEX_FILE)}`, () => fs.readFileSync(join(target, INDEX_FILE))) : null;
    const parsed = bytes === null ? { problem: `it is a ${indexKind}` } : parseIndex(bytes.toString("utf8"));
    if ("problem" in parsed) {
      throw new OutputError(
        `${show(INDEX_FILE)} is not an index natgw wrote (${parsed.problem}); natgw changes only the files its own ${INDEX_FILE} lists, so it changed nothing: move that file away, or choose another --out`,
      );
    }
    const mode = attempt(`reading ${show(INDEX_FILE)}`, () => fs.lstatSync(join(target, INDEX_FILE))).mode & 0o7777;
    previousIndex = { bytes: bytes!, mode: mode.toString(8).padStart(4, "0") };
    previousEntries = parsed.entries;
  }
  const owned = new Map(previousEntries.map((entry) => [entry.path, entry]));
  const isEdited = (entry: IndexEntry) => sha256(attempt(`reading ${show(entry.path)}`, () => fs.readFileSync(join(target, entry.path)))) !== entry.sha256;

  const conflicts = new Set<string>();
  const missing = new Set<string>();
  const replaced: string[] = [];
  const edited: string[] = [];
  for (const artifact of artifacts) {
    const blocked = blockingAncestor(artifact.path, kindAt);
    if (blocked !== null) {
      conflicts.add(`${show(blocked)} is a ${kindAt(blocked)}, where natgw needs a directory`);
      continue;
    }
    for (const ancestor of ancestors(artifact.path)) if (kindAt(ancestor) === "absent") missing.add(ancestor);
    const kind = kindAt(artifact.path);
    const entry = owned.get(artifact.path);
    if (kind === "file" && entry !== undefined) {
      replaced.push(artifact.path);
      if (isEdited(entry)) edited.push(artifact.path);
    } else if (kind === "file") {
      conflicts.add(`${show(artifact.path)} exists and ${INDEX_FILE} does not list it`);
    } else if (kind !== "absent") {
      conflicts.add(`${show(artifact.path)} is a ${kind}`);
    }
  }
  if (conflicts.size > 0) {
    const listed = [...conflicts].sort().slice(0, MAX_LISTED).map((line) => `  ${line}`);
    if (conflicts.size > MAX_LISTED) listed.push(`  and ${conflicts.size - MAX_LISTED} more`);
    throw new OutputError(
      `${conflicts.size === 1 ? "a path" : `${conflicts.size} paths`} natgw writes ${conflicts.size === 1 ? "is" : "are"} already taken:\n${listed.join("\n")}\nnatgw changes only the files its ${INDEX_FILE} lists, so it changed nothing: move ${conflicts.size === 1 ? "it" : "them"} away, or choose another --out`,
    );
  }

  // A listed file that is no longer a regular file in a real directory has been
  // replaced by someone else; it is theirs now and stays.
  const written = new Set(artifacts.map((artifact) => artifact.path));
  const stale = previousEntries
    .filter((entry) => !written.has(entry.path) && blockingAncestor(entry.path, kindAt) === null && kindAt(entry.path) === "file")
    .map((entry) => entry.path);
  for (const path of stale) if (isEdited(owned.get(path)!)) edited.push(path);

  return { target, exists, previousIndex, previousEntries, replaced, stale, edited: edited.sort(), missingDirectories: [...missing] };
}

/** "a/b/c" -> ["a", "a/b"], parents first. */
export function ancestors(path: string): string[] {
  const parts = path.split("/");
  return parts.slice(1).map((_, index) => parts.slice(0, index + 1).join("/"));
}

/** The first ancestor that exists and is not a directory: natgw does not write through links. */
function blockingAncestor(path: string, kindAt: (path: string) => Kind): string | null {
  for (const ancestor of ancestors(path)) {
    const kind = kindAt(ancestor);
    if (kind === "absent") return null;
    if (kind !== "directory") return ancestor;
  }
  return null;
}

function linkTarget(fs: FileSystem, link: string): string {
  return realPathOrNull(fs, link) ?? resolve(dirname(link), attempt(`reading the link ${link}`, () => fs.readlinkSync(link, "utf8")));
}

function realPathOrNull(fs: FileSystem, path: string): string | null {
  try {
    return fs.realpathSync(path);
  } catch {
    return null;
  }
}

/** The real path of a directory that may not exist yet: its deepest existing ancestor's, plus the rest. */
function realPathOf(fs: FileSystem, path: string, kindOf: (path: string) => Kind): string {
  let existing = path;
  while (kindOf(existing) === "absent" && dirname(existing) !== existing) existing = dirname(existing);
  const real = realPathOrNull(fs, existing) ?? existing;
  return existing === path ? real : join(real, path.slice(existing.length));
}
