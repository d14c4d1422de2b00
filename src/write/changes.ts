import type { IndexEntry } from "./index-file.js";

/** What a build changed in the output directory, by natgw.json's record of each file. */
export interface Changes {
  /** No natgw.json was there before: every file is new. */
  readonly firstBuild: boolean;
  readonly added: readonly string[];
  /** Files whose content or mode differs from what the previous index recorded. */
  readonly changed: readonly string[];
  readonly removed: readonly string[];
  readonly unchanged: readonly string[];
}

/**
 * The previous build's index against this one's, path by path: the same comparison
 * a reviewer makes in a pull request, without reading the files. natgw.json itself
 * is in neither list. A file someone edited after the previous build counts as
 * unchanged when natgw wrote the same bytes again; the write stage reports those.
 */
export function compareIndexes(previous: readonly IndexEntry[] | null, next: readonly IndexEntry[]): Changes {
  const before = new Map((previous ?? []).map((entry) => [entry.path, entry]));
  const after = new Set(next.map((entry) => entry.path));
  const added: string[] = [];
  const changed: string[] = [];
  const unchanged: string[] = [];
  for (const entry of next) {
    const old = before.get(entry.path);
    if (old === undefined) added.push(entry.path);
    else if (old.sha256 !== entry.sha256 || old.mode !== entry.mode) changed.push(entry.path);
    else unchanged.push(entry.path);
  }
  const removed = [...before.keys()].filter((path) => !after.has(path));
  return { firstBuild: previous === null, added: sorted(added), changed: sorted(changed), removed: sorted(removed), unchanged: sorted(unchanged) };
}

/** Byte order, as natgw.json lists paths, so the report reads the same on every machine. */
function sorted(paths: string[]): string[] {
  return paths.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
