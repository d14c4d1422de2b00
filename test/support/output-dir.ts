import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isRoot } from "./tools.js";

/**
 * Every entry under `dir` with its type, mode and content hash (or link target):
 * two equal listings mean nothing was added, removed, or changed by a byte.
 */
export function listing(dir: string): string[] {
  const walk = (path: string, prefix: string): string[] =>
    readdirSync(path)
      .sort()
      .flatMap((name) => {
        const full = join(path, name);
        const shown = `${prefix}${name}`;
        const stats = lstatSync(full);
        const mode = (stats.mode & 0o7777).toString(8);
        if (stats.isSymbolicLink()) return [`${shown} link ${readlinkSync(full)}`];
        if (stats.isDirectory()) return [`${shown}/ dir ${mode}`, ...walk(full, `${shown}/`)];
        return [`${shown} file ${mode} ${createHash("sha256").update(readFileSync(full)).digest("hex")}`];
      });
  return walk(dir, "");
}

/**
 * Tests that mount a tmpfs to meet the kernel's own errors (EROFS, ENOSPC) need
 * root; elsewhere they are skipped with this reason. In CI a skip would hide a
 * failure, so there they run, and fail without root.
 */
export function cannotMount(): string | undefined {
  return isRoot() || process.env.CI === "true" ? undefined : "needs root to mount a tmpfs";
}

/** Runs `body` with a fresh tmpfs mounted with `options` (e.g. "ro", "nr_inodes=64"), unmounted afterwards. */
export function withTmpfs<T>(options: string, body: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "natgw-tmpfs-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", dir]);
  try {
    return body(dir);
  } finally {
    execFileSync("umount", [dir]);
    rmdirSync(dir);
  }
}

export function remount(dir: string, options: string): void {
  execFileSync("mount", ["-o", `remount,${options}`, dir]);
}
