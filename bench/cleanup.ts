import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * What a benchmark leaves behind (scratch directories, network namespaces) is
 * registered here and removed when the run ends, however it ends: normally, by an
 * error, or by Ctrl-C. Cleanups are synchronous so a signal handler can run them.
 */
const cleanups: (() => void)[] = [];

/** Registers `cleanup`; the returned function runs it now and unregisters it. */
export function onCleanup(cleanup: () => void): () => void {
  cleanups.push(cleanup);
  return () => {
    const index = cleanups.indexOf(cleanup);
    if (index >= 0) cleanups.splice(index, 1);
    cleanup();
  };
}

/** Runs every registered cleanup, the latest first; one failing does not stop the others. */
export function runCleanups(): void {
  while (cleanups.length > 0) {
    const cleanup = cleanups.pop()!;
    try {
      cleanup();
    } catch (error) {
      process.stderr.write(`bench: cleanup failed: ${(error as Error).message}\n`);
    }
  }
}

/** On SIGINT or SIGTERM: clean up, then exit as a process killed by that signal would. */
export function cleanUpOnSignals(): void {
  const exitCodes = { SIGINT: 130, SIGTERM: 143 } as const;
  for (const [signal, exitCode] of Object.entries(exitCodes)) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}: cleaning up\n`);
      runCleanups();
      process.exit(exitCode);
    });
  }
}

/** A temporary directory, removed with the other cleanups. */
export function scratchDirectory(prefix = "natgw-bench-"): string {
  const directory = mkdtempSync(join(tmpdir(), prefix));
  onCleanup(() => rmSync(directory, { recursive: true, force: true }));
  return directory;
}
