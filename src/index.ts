/**
 * natgw as a library: `compile(files)` runs load, validate and resolve and returns
 * the model and every diagnostic.
 */
export { compile, compileSources, type CompileResult } from "./compile.js";
export type { Diagnostic, Severity, SourceLocation } from "./diagnostics/diagnostic.js";
export { formatJson, formatText } from "./diagnostics/format.js";
export { explain, type Explanation, type Flow } from "./explain/explain.js";
export type { SourceText } from "./load/document.js";
export type * from "./resolve/model.js";
export type * from "./spec/types.generated.js";
