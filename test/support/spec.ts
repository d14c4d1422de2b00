import { compileSources, type CompileResult } from "../../src/compile.js";
import type { Diagnostic } from "../../src/diagnostics/diagnostic.js";

/** Compiles spec texts named a.yaml, b.yaml, … (or given names) in memory. */
export function compileText(...texts: string[]): CompileResult {
  return compileSources(texts.map((text, index) => ({ path: `${String.fromCharCode(97 + index)}.yaml`, text })));
}

export function errors(result: CompileResult): Diagnostic[] {
  return result.diagnostics.filter((d) => d.severity === "error");
}

export function codes(result: CompileResult): string[] {
  return result.diagnostics.map((d) => d.code);
}

/**
 * A valid HA gateway; `spec` is spliced into its spec (two-space indented YAML).
 * A `members:` there replaces the default one, and must name its sshKeys.
 */
export function gateway(options: { name?: string; spec?: string; network?: string } = {}): string {
  const extra = options.spec && !options.spec.endsWith("\n") ? `${options.spec}\n` : (options.spec ?? "");
  const network =
    options.network ??
    `  network:
    id: 4711
    ipRange: 10.0.0.0/16
    subnet: 10.0.1.0/24`;
  return `apiVersion: natgw.dev/v1alpha1
kind: NatGateway
metadata:
  name: ${options.name ?? "prod-egress"}
spec:
  location: fsn1
${network}
  security:
    sshAllowedCIDRs: [198.51.100.7/32]
${extra}${/^  members:/m.test(extra) ? "" : "  members: { sshKeys: [ops] }\n"}`;
}

export function policy(name: string, body: string): string {
  return `apiVersion: natgw.dev/v1alpha1
kind: EgressNATPolicy
metadata:
  name: ${name}
spec:
${body}`;
}
