import { delimiter } from "node:path";
import { App } from "cdktf";
import { compile } from "../compile.js";
import { hasErrors } from "../diagnostics/diagnostic.js";
import { formatText } from "../diagnostics/format.js";
import { NatGatewayStack } from "./stack.js";

/** The cdktf.json context key that names the spec files. */
export const SPEC_CONTEXT_KEY = "natgwSpec";

/**
 * The spec files: NATGW_SPEC (paths separated like PATH) wins over cdktf.json's
 * `context.natgwSpec` (a path or a list of paths), so a pipeline can point the
 * same repository at another spec without editing it.
 */
export function specFiles(environment: NodeJS.ProcessEnv, context: unknown): string[] {
  const fromEnvironment = environment.NATGW_SPEC?.split(delimiter).filter((path) => path !== "");
  if (fromEnvironment && fromEnvironment.length > 0) return fromEnvironment;
  if (typeof context === "string" && context !== "") return [context];
  if (Array.isArray(context) && context.length > 0 && context.every((path) => typeof path === "string")) return context;
  return [];
}

/**
 * The app `cdktf synth` runs (cdktf.json: `"app": "npx natgw-cdktf"`): one
 * NatGatewayStack per gateway of the spec. Returns the exit code; prints the
 * spec's diagnostics when it does not compile.
 */
export function synthApp(environment: NodeJS.ProcessEnv = process.env, stderr: (text: string) => void = (text) => process.stderr.write(text)): number {
  const app = new App();
  const files = specFiles(environment, app.node.tryGetContext(SPEC_CONTEXT_KEY));
  if (files.length === 0) {
    stderr(`natgw: no spec to synthesize: set "context": { "${SPEC_CONTEXT_KEY}": "natgw.yaml" } in cdktf.json, or NATGW_SPEC\n`);
    return 2;
  }
  const result = compile(files);
  if (result.diagnostics.length > 0) stderr(formatText(result.diagnostics));
  if (!result.model || hasErrors(result.diagnostics)) return 1;
  for (const gateway of result.model.gateways) new NatGatewayStack(app, gateway.name, gateway);
  app.synth();
  return 0;
}
