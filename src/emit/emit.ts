import type { Diagnostic } from "../diagnostics/diagnostic.js";
import type { Model } from "../resolve/model.js";
import type { Artifact } from "./artifact.js";
import { emitDiagrams } from "./diagram.js";
import { emitHosts } from "./hosts/hosts.js";
import { emitMonitoring } from "./monitoring.js";
import { emitNodes } from "./nodes.js";
import { emitTerraform } from "./terraform/terraform.js";

export interface EmitResult {
  readonly artifacts: Artifact[];
  readonly diagnostics: Diagnostic[];
}

/** model -> artifacts. Pure: the write stage puts them on disk. */
export function emit(model: Model): EmitResult {
  const hosts = emitHosts(model);
  // A member without user-data (too large) has no stack to build; its diagnostic says why.
  const terraform = hosts.diagnostics.length === 0 ? emitTerraform(model, hosts.artifacts) : [];
  return {
    artifacts: [...hosts.artifacts, ...emitMonitoring(model), ...emitDiagrams(model), ...emitNodes(model), ...terraform],
    diagnostics: hosts.diagnostics,
  };
}
