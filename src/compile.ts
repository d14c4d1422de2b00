import { hasErrors, sortDiagnostics, type Diagnostic } from "./diagnostics/diagnostic.js";
import type { SourceText } from "./load/document.js";
import { load } from "./load/load.js";
import { readSources } from "./load/read.js";
import type { Model } from "./resolve/model.js";
import { resolve } from "./resolve/resolve.js";
import { validate } from "./validate/validate.js";

export interface CompileResult {
  /** The resolved model, when the spec has no error. */
  readonly model?: Model;
  /** Every problem found, errors and warnings, in file and position order. */
  readonly diagnostics: readonly Diagnostic[];
}

/**
 * load -> validate -> resolve. Each stage reports all it finds; a stage runs only
 * when the one before it found no error, since its checks assume what that stage
 * guarantees. Files are paths to read, or texts a program already has.
 */
export function compile(files: readonly (string | SourceText)[]): CompileResult {
  const paths = files.filter((file): file is string => typeof file === "string");
  const read = readSources(paths);
  const byPath = new Map(read.sources.map((source) => [source.path, source]));
  const sources = files
    .map((file) => (typeof file === "string" ? byPath.get(file) : file))
    .filter((source): source is SourceText => source !== undefined);
  return compileSources(sources, read.diagnostics);
}

/** The pure part of `compile`: texts in, model and diagnostics out. */
export function compileSources(sources: readonly SourceText[], earlier: readonly Diagnostic[] = []): CompileResult {
  const loaded = load(sources);
  const diagnostics = [...earlier, ...loaded.diagnostics];
  if (hasErrors(diagnostics)) return { diagnostics: sortDiagnostics(diagnostics) };
  diagnostics.push(...validate(loaded.documents));
  if (hasErrors(diagnostics)) return { diagnostics: sortDiagnostics(diagnostics) };
  if (loaded.documents.length === 0) return { diagnostics: sortDiagnostics(diagnostics) };
  const resolved = resolve(loaded.documents);
  diagnostics.push(...resolved.diagnostics);
  return { ...(resolved.model ? { model: resolved.model } : {}), diagnostics: sortDiagnostics(diagnostics) };
}
