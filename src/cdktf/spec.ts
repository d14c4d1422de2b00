import { compile } from "../compile.js";
import { hasErrors } from "../diagnostics/diagnostic.js";
import { formatText } from "../diagnostics/format.js";
import { emitHosts } from "../emit/hosts/hosts.js";
import { memberHosts } from "../emit/terraform/gateway.js";
import type { MemberHost } from "../emit/terraform/push.js";
import type { SourceText } from "../load/document.js";
import type { GatewayModel } from "../resolve/model.js";

/**
 * A spec, as a cdktf construct takes it: spec files (paths, or texts a program
 * has), or the documents themselves as objects (one, or a list for several),
 * and which NatGateway of it to build (default: the only one).
 */
export interface NatGatewaySpec {
  readonly files?: readonly (string | SourceText)[];
  readonly documents?: object | readonly object[];
  readonly gateway?: string;
}

/** A spec that does not compile, with every diagnostic, as natgw validate prints them. */
export class NatGatewaySpecError extends Error {
  override readonly name = "NatGatewaySpecError";
}

/** Documents given as objects become one JSON text, so diagnostics point at a line of it. */
function sources(spec: NatGatewaySpec): (string | SourceText)[] {
  if (spec.files && spec.documents) throw new NatGatewaySpecError("natgw: give the spec as files or as documents, not both");
  if (spec.files) return [...spec.files];
  if (spec.documents === undefined) throw new NatGatewaySpecError("natgw: no spec: give files or documents");
  const documents = Array.isArray(spec.documents) ? spec.documents : [spec.documents];
  return documents.map((document, index) => ({ path: `<documents[${index}]>`, text: `${JSON.stringify(document, null, 2)}\n` }));
}

/** The gateway a construct builds, and its members' host files, from a spec. */
export function gatewayFromSpec(spec: NatGatewaySpec, preferred: string): { gateway: GatewayModel; hosts: Map<string, MemberHost> } {
  const result = compile(sources(spec));
  if (!result.model || hasErrors(result.diagnostics)) throw new NatGatewaySpecError(`natgw: the spec does not compile:\n${formatText(result.diagnostics)}`);
  const gateways = result.model.gateways;
  const wanted = spec.gateway ?? (gateways.length === 1 ? gateways[0]!.name : preferred);
  const gateway = gateways.find((candidate) => candidate.name === wanted);
  if (!gateway) {
    throw new NatGatewaySpecError(`natgw: the spec has no NatGateway named ${JSON.stringify(wanted)} (it has ${gateways.map((g) => g.name).join(", ")})`);
  }
  return { gateway, hosts: hostsOf(gateway) };
}

/** The members' host files; they depend only on their own gateway. */
export function hostsOf(gateway: GatewayModel): Map<string, MemberHost> {
  const emitted = emitHosts({ apiVersion: "natgw.dev/v1alpha1", gateways: [gateway] });
  if (emitted.diagnostics.length > 0) throw new NatGatewaySpecError(`natgw: ${formatText(emitted.diagnostics)}`);
  return memberHosts(gateway, emitted.artifacts);
}
