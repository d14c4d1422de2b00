import * as nodeFs from "node:fs";
import { dirname, join, relative } from "node:path";
import type { Artifact } from "../emit/artifact.js";
import { compareIndexes, type Changes } from "./changes.js";
import { attempt, describeErrno, errnoCode, OutputError } from "./fs-errors.js";
import { indexEntries, INDEX_FILE, isSafeRelativePath, renderIndex, type IndexEntry } from "./index-file.js";
import { ancestors, planOutput, type FileSystem, type Plan } from "./plan.js";

export { buildIndex, INDEX_FILE, type IndexEntry } from "./index-file.js";
export type { Changes } from "./changes.js";
export { OutputError } from "./fs-errors.js";
export type { FileSystem } from "./plan.js";

export interface WriteOptions {
  /** The spec files the artifacts came from: natgw refuses an output directory that holds one. */
  readonly inputs?: readonly string[];
  readonly fs?: FileSystem;
}

export interface WriteResult {
  /** Files written, natgw.json included. */
  readonly written: number;
  /** Files natgw wrote that someone changed since, now replaced or removed. */
  readonly edited: readonly string[];
  /** Leftovers natgw could not clean up after a successful build. */
  readonly warnings: readonly string[];
  /** The index this build wrote, in path order. */
  readonly entries: readonly IndexEntry[];
  /** What this build added, changed and removed since the previous one. */
  readonly changes: Changes;
}

/** Where a build stages its files: inside the output, so every rename stays on one file system. */
const STAGING_PREFIX = ".natgw-staging-";

/**
 * artifacts -> out dir. natgw owns exactly the files its previous natgw.json lists:
 * it writes, replaces and removes only those, and every other file (Terraform state,
 * `.terraform/`, lock files, overrides, a README, `.git`) stays byte for byte.
 *
 * Three phases:
 * 1. Plan (planOutput): every refusal, before anything is written.
 * 2. Stage: create missing directories and write every new file, with its mode, into a
 *    temporary directory inside the output. A failure removes what this phase made.
 * 3. Commit: an interim natgw.json listing the files of both builds, then the old
 *    files moved aside into the staging directory, the new ones renamed into place,
 *    and the final natgw.json. Each step is a rename on one file system and is undone
 *    in reverse on failure, the old natgw.json last. Renaming the final natgw.json in
 *    is the commit point; after it natgw only deletes the staging directory (with the
 *    old files) and directories its stale files left empty, and a failure there is a
 *    warning, not an error: the build is complete.
 *
 * What cannot be rolled back: a process killed during the commit leaves a mix of both
 * builds. The interim natgw.json lists every path of both, so the next build owns and
 * repairs them; the old versions stay in `.natgw-staging-*`, which natgw does not own.
 */
export function writeOutput(outDir: string, artifacts: readonly Artifact[], version: string, options: WriteOptions = {}): WriteResult {
  const fs = options.fs ?? nodeFs;
  checkArtifactPaths(artifacts);
  const plan = planOutput(outDir, artifacts, options.inputs ?? [], fs);
  const { target } = plan;
  const show = (path: string) => join(outDir, relative(target, path));
  const indexPath = join(target, INDEX_FILE);
  const entries = indexEntries(artifacts);

  const created: string[] = [];
  const restore: (() => void)[] = [];
  let staging: string | null = null;
  try {
    if (!plan.exists) created.push(...makeDirectory(fs, target, outDir));
    staging = attempt(`creating a temporary directory in ${outDir}`, () => fs.mkdtempSync(join(target, STAGING_PREFIX)));
    const stage = staging;
    const stageFile = (name: string, content: string | Buffer, mode: string, shown: string) => {
      const path = join(stage, name);
      attempt(`writing ${shown}`, () => fs.writeFileSync(path, content, { flag: "wx" }));
      // The umask applies to writeFileSync's mode, and the index promises this one.
      attempt(`writing ${shown}`, () => fs.chmodSync(path, Number.parseInt(mode, 8)));
    };
    artifacts.forEach((artifact, position) => stageFile(`file-${position}`, artifact.content, artifact.fileMode, show(join(target, artifact.path))));
    stageFile("index", renderIndex(entries, version), "0644", show(indexPath));
    stageFile("interim-index", renderIndex(interimEntries(plan.previousEntries, entries), version), "0644", show(indexPath));
    if (plan.previousIndex !== null) stageFile("previous-index", plan.previousIndex.bytes, plan.previousIndex.mode, show(indexPath));
    for (const directory of plan.missingDirectories) {
      const path = join(target, directory);
      attempt(`creating directory ${show(path)}`, () => fs.mkdirSync(path));
      created.push(path);
    }

    attempt(`writing ${show(indexPath)}`, () => fs.renameSync(join(stage, "interim-index"), indexPath));
    restore.push(plan.previousIndex !== null ? () => fs.renameSync(join(stage, "previous-index"), indexPath) : () => fs.unlinkSync(indexPath));
    [...plan.replaced, ...plan.stale].forEach((file, position) => {
      const path = join(target, file);
      const aside = join(stage, `previous-${position}`);
      attempt(`moving ${show(path)} aside`, () => fs.renameSync(path, aside));
      restore.push(() => fs.renameSync(aside, path));
    });
    artifacts.forEach((artifact, position) => {
      const path = join(target, artifact.path);
      attempt(`writing ${show(path)}`, () => fs.renameSync(join(stage, `file-${position}`), path));
      restore.push(() => fs.unlinkSync(path));
    });
    attempt(`writing ${show(indexPath)}`, () => fs.renameSync(join(stage, "index"), indexPath));
  } catch (error) {
    const failed = rollBack(fs, restore, staging, created);
    if (failed === null) throw error;
    const cause = error instanceof OutputError ? error.message : describeErrno(error);
    const aside = staging !== null && restore.length > 0 ? ` and the files moved aside are in ${show(staging)}` : "";
    throw new OutputError(
      `${cause}\nnatgw could not undo every step (${failed}), so ${outDir} may hold files of both builds; ${show(indexPath)} lists them all${aside}: build again once the cause is fixed`,
      { cause: error },
    );
  }

  const warnings: string[] = [];
  try {
    fs.rmSync(staging, { recursive: true, force: true });
  } catch (error) {
    warnings.push(`could not remove ${show(staging)}: ${describeErrno(error)}; it holds only files of the previous build and can be deleted`);
  }
  warnings.push(...removeEmptiedDirectories(fs, plan, artifacts, show));
  const changes = compareIndexes(plan.previousIndex === null ? null : plan.previousEntries, entries);
  return { written: artifacts.length + 1, edited: plan.edited, warnings, entries, changes };
}

/** Paths come from natgw's emitters; one that could leave the output is a bug, caught before any write. */
function checkArtifactPaths(artifacts: readonly Artifact[]): void {
  const seen = new Set<string>();
  for (const artifact of artifacts) {
    if (!isSafeRelativePath(artifact.path)) {
      throw new Error(`natgw bug: artifact path ${JSON.stringify(artifact.path)} leaves the output directory or names the index`);
    }
    if (seen.has(artifact.path)) throw new Error(`natgw bug: two artifacts at ${JSON.stringify(artifact.path)}`);
    seen.add(artifact.path);
  }
}

/** Every path of the new build, plus the old paths it drops: whatever a killed commit may leave in place. */
function interimEntries(previous: readonly IndexEntry[], next: readonly IndexEntry[]): IndexEntry[] {
  const paths = new Set(next.map((entry) => entry.path));
  return [...next, ...previous.filter((entry) => !paths.has(entry.path))].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Creates a directory and its missing parents one by one, so an error names its real cause (recursive mkdir can report ENOENT for EROFS). */
function makeDirectory(fs: FileSystem, path: string, outDir: string): string[] {
  const missing: string[] = [];
  const absent = (directory: string) => attempt(`reading ${directory}`, () => fs.lstatSync(directory, { throwIfNoEntry: false })) === undefined;
  for (let directory = path; absent(directory); directory = dirname(directory)) {
    missing.unshift(directory);
    if (dirname(directory) === directory) break;
  }
  const created: string[] = [];
  try {
    for (const directory of missing) {
      attempt(`creating directory ${directory === path ? outDir : directory}`, () => fs.mkdirSync(directory));
      created.push(directory);
    }
  } catch (error) {
    // Best effort: the mkdir error is the cause worth reporting, not a later rmdir's.
    for (const directory of created.reverse()) {
      try {
        fs.rmdirSync(directory);
      } catch {
        break;
      }
    }
    throw error;
  }
  return created;
}

/**
 * Undoes the commit steps in reverse, then removes the staging directory and the
 * directories this build created. Returns null when everything was undone, or the
 * first step that failed; then the staging directory is kept, since it may hold the
 * only copy of a file of the previous build.
 */
function rollBack(fs: FileSystem, restore: readonly (() => void)[], staging: string | null, created: readonly string[]): string | null {
  let failed: string | null = null;
  for (const step of [...restore].reverse()) {
    try {
      step();
    } catch (error) {
      failed ??= describeErrno(error);
    }
  }
  if (failed !== null) return failed;
  try {
    if (staging !== null) fs.rmSync(staging, { recursive: true, force: true });
    for (const directory of [...created].reverse()) fs.rmdirSync(directory);
  } catch (error) {
    return describeErrno(error);
  }
  return null;
}

/**
 * Directories of files the previous index listed and this build does not write are
 * removed when empty, deepest first (also when those files were already gone, as
 * after an interrupted build); one that still holds anything stays.
 */
function removeEmptiedDirectories(fs: FileSystem, plan: Plan, artifacts: readonly Artifact[], show: (path: string) => string): string[] {
  const written = new Set(artifacts.map((artifact) => artifact.path));
  const kept = new Set(artifacts.flatMap((artifact) => ancestors(artifact.path)));
  const dropped = plan.previousEntries.map((entry) => entry.path).filter((path) => !written.has(path));
  const candidates = [...new Set(dropped.flatMap(ancestors))].filter((directory) => !kept.has(directory));
  candidates.sort((a, b) => b.split("/").length - a.split("/").length || (a < b ? -1 : 1));
  const warnings: string[] = [];
  // rmdir follows a link in the middle of a path: only directories reached through real directories are natgw's.
  const isDirectory = (directory: string) => fs.lstatSync(join(plan.target, directory), { throwIfNoEntry: false })?.isDirectory() === true;
  for (const directory of candidates) {
    try {
      if (![...ancestors(directory), directory].every(isDirectory)) continue;
      fs.rmdirSync(join(plan.target, directory));
    } catch (error) {
      const code = errnoCode(error);
      if (code !== "ENOTEMPTY" && code !== "EEXIST" && code !== "ENOENT" && code !== "ENOTDIR") {
        warnings.push(`could not remove the empty directory ${show(join(plan.target, directory))}: ${describeErrno(error)}`);
      }
    }
  }
  return warnings;
}
