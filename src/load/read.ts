import { readFileSync, statSync } from "node:fs";
import { diagnose } from "../diagnostics/catalogue.js";
import type { Diagnostic } from "../diagnostics/diagnostic.js";
import { count } from "../diagnostics/quote.js";
import type { SourceText } from "./document.js";
import { MAX_FILE_BYTES } from "./load.js";

export interface ReadResult {
  readonly sources: SourceText[];
  readonly diagnostics: Diagnostic[];
}

/** The one place the front half touches the disk. An oversized file is refused before it is read. */
export function readSources(paths: readonly string[]): ReadResult {
  const sources: SourceText[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const path of paths) {
    const at = { file: path, line: 1, column: 1, pointer: "" };
    try {
      const stats = statSync(path);
      if (stats.isDirectory()) {
        diagnostics.push(diagnose("fileUnreadable", { reason: "it is a directory; name the spec files in it" }, at));
        continue;
      }
      if (stats.size > MAX_FILE_BYTES) {
        diagnostics.push(diagnose("fileTooLarge", { bytes: count(stats.size), limit: count(MAX_FILE_BYTES) }, at));
        continue;
      }
      sources.push({ path, text: readFileSync(path, "utf8") });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason =
        code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : (error as Error).message;
      diagnostics.push(diagnose("fileUnreadable", { reason }, at));
    }
  }
  return { sources, diagnostics };
}
