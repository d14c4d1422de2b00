import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Artifact } from "../emit/artifact.js";

/** The index every build writes next to its files. */
export const INDEX_FILE = "natgw.json";

export interface IndexEntry {
  readonly path: string;
  readonly role: string;
  readonly gateway: string | null;
  readonly member: string | null;
  readonly mode: string;
  readonly sha256: string;
}

/** natgw.json: every artifact with its role, member, file mode and sha256, in path order. */
export function buildIndex(artifacts: readonly Artifact[], version: string): string {
  const entries: IndexEntry[] = [...artifacts]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((artifact) => ({
      path: artifact.path,
      role: artifact.role,
      gateway: artifact.gateway,
      member: artifact.member,
      mode: artifact.fileMode,
      sha256: createHash("sha256").update(artifact.content, "utf8").digest("hex"),
    }));
  return `${JSON.stringify({ generator: `natgw ${version}`, artifacts: entries }, null, 2)}\n`;
}

export class OutputError extends Error {}

/**
 * artifacts -> out dir, atomically: everything is written into a fresh sibling
 * directory first, and only a complete build replaces the old one, so a failed
 * build leaves an existing directory as it was. A directory that is not a natgw
 * output (no natgw.json) is never replaced: `--out .` must not delete a repository.
 */
export function writeOutput(outDir: string, artifacts: readonly Artifact[], version: string): void {
  const target = resolve(outDir);
  if (existsSync(target)) {
    if (!statSync(target).isDirectory()) throw new OutputError(`${outDir} exists and is not a directory`);
    if (readdirSync(target).length > 0 && !existsSync(join(target, INDEX_FILE))) {
      throw new OutputError(`${outDir} exists and is not a natgw output directory (it has no ${INDEX_FILE}); choose a new or empty path`);
    }
  }
  const staging = `${target}.natgw-${process.pid}-new`;
  const previous = `${target}.natgw-${process.pid}-old`;
  rmSync(staging, { recursive: true, force: true });
  try {
    for (const artifact of artifacts) {
      if (artifact.path.split("/").some((part) => part === ".." || part === "")) {
        throw new Error(`natgw bug: artifact path ${JSON.stringify(artifact.path)} leaves the output directory`);
      }
      const file = join(staging, artifact.path);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, artifact.content);
      chmodSync(file, Number.parseInt(artifact.fileMode, 8));
    }
    writeFileSync(join(staging, INDEX_FILE), buildIndex(artifacts, version));
    if (existsSync(target)) renameSync(target, previous);
    renameSync(staging, target);
    rmSync(previous, { recursive: true, force: true });
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(target) && existsSync(previous)) renameSync(previous, target);
    throw error;
  }
}
