import { compile } from "../../src/compile.js";
import type { Artifact } from "../../src/emit/artifact.js";
import { emit } from "../../src/emit/emit.js";

export const EXAMPLES = ["single", "ha", "policies", "ports"] as const;

/** Every member of the examples, in the order of EXAMPLES. */
export const EXAMPLE_MEMBERS = [
  "dev-egress-1",
  "prod-egress-1",
  "prod-egress-2",
  "edge-egress-1",
  "edge-egress-2",
  "batch-egress-1",
  "batch-egress-2",
];

/** Every artifact built from one example, as `natgw build` would write it. */
export function buildExample(example: string): Artifact[] {
  const result = compile([`examples/${example}.yaml`]);
  if (!result.model) throw new Error(`examples/${example}.yaml does not compile`);
  const emitted = emit(result.model);
  if (emitted.diagnostics.length > 0) throw new Error(`examples/${example}.yaml: ${emitted.diagnostics[0]!.message}`);
  return emitted.artifacts;
}

/** The artifacts of every example whose host path ends with `suffix`. */
export function hostFiles(suffix: string): Artifact[] {
  return EXAMPLES.flatMap((example) => buildExample(example)).filter((artifact) => artifact.path.endsWith(suffix));
}
