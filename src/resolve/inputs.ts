import { quote } from "../diagnostics/quote.js";
import { childPointer, type SourceDocument } from "../load/document.js";
import type { EgressNATPolicy, NatGateway } from "../spec/types.generated.js";
import { gatewaySettings, type GatewaySettings } from "./defaults.js";
import { defaultNetworkName } from "./hetzner.js";
import type { Cidr } from "./ip.js";
import type { Located, Reporter } from "./reporter.js";

/** A gateway document with defaults applied and every network parsed. */
export interface GatewayInput {
  readonly document: SourceDocument;
  readonly settings: GatewaySettings;
  readonly networkKey: string;
  readonly ipRange: Cidr;
  readonly subnet: Cidr;
  readonly routes: readonly Located<Cidr>[];
  readonly sources: readonly Located<Cidr>[];
  readonly sshAllowedCIDRs: readonly Located<Cidr>[];
  readonly apiAllowedNetworks: readonly Located<Cidr>[];
}

export interface PolicyInput {
  readonly document: SourceDocument;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly gatewayName: string;
  /** The egress IP the policy names, or undefined for the gateway's first. */
  readonly egressIP: string | undefined;
  readonly sources: readonly Located<Cidr>[];
  readonly destinations: readonly Located<Cidr>[];
}

const RESERVED_LABEL_PREFIX = "natgw.dev/";

export function gatewayInput(document: SourceDocument, reporter: Reporter): GatewayInput | undefined {
  const gateway = document.data as unknown as NatGateway;
  const settings = gatewaySettings(gateway);
  checkLabels(document, settings.labels, reporter);
  const network = settings.network;
  const ipRange = reporter.cidr(document, "/spec/network/ipRange", "spec.network.ipRange", network.ipRange);
  const subnet = reporter.cidr(document, "/spec/network/subnet", "spec.network.subnet", network.subnet);
  const routes = reporter.cidrs(document, "/spec/routes", "spec.routes", settings.routes);
  const sources = gateway.spec.sources
    ? reporter.cidrs(document, "/spec/sources", "spec.sources", settings.sources)
    : ipRange && [{ value: ipRange.value, pointer: "/spec/network/ipRange" }];
  const ssh = reporter.cidrs(document, "/spec/security/sshAllowedCIDRs", "spec.security.sshAllowedCIDRs", settings.security.sshAllowedCIDRs);
  const api = reporter.cidrs(document, "/spec/cluster/apiAllowedNetworks", "spec.cluster.apiAllowedNetworks", settings.cluster.apiAllowedNetworks);
  if (!ipRange || !subnet || !routes || !sources || !ssh || !api) return undefined;
  return {
    document,
    settings,
    networkKey: networkKey(settings),
    ipRange: ipRange.value,
    subnet: subnet.value,
    routes,
    sources,
    sshAllowedCIDRs: ssh,
    apiAllowedNetworks: api,
  };
}

export function policyInput(document: SourceDocument, reporter: Reporter): PolicyInput | undefined {
  const policy = document.data as unknown as EgressNATPolicy;
  const labels = policy.metadata.labels ?? {};
  checkLabels(document, labels, reporter);
  const sources = reporter.cidrs(document, "/spec/sources", "spec.sources", policy.spec.sources.map((s) => s.cidr), "cidr");
  const destinations = reporter.cidrs(
    document,
    "/spec/destinations",
    "spec.destinations",
    policy.spec.destinations.map((d) => d.cidr),
    "cidr",
  );
  if (!sources || !destinations) return undefined;
  return {
    document,
    name: policy.metadata.name,
    labels,
    gatewayName: policy.spec.gatewayRef.name,
    egressIP: policy.spec.egressIP,
    sources,
    destinations,
  };
}

/** Which Hetzner network a gateway attaches to; gateways with the same key share one. */
function networkKey(settings: GatewaySettings): string {
  const network = settings.network;
  if (network.id !== undefined) return `id:${network.id}`;
  return `name:${network.name ?? defaultNetworkName(settings.name)}`;
}

function checkLabels(document: SourceDocument, labels: Readonly<Record<string, string>>, reporter: Reporter): void {
  for (const key of Object.keys(labels)) {
    if (key.startsWith(RESERVED_LABEL_PREFIX)) {
      reporter.report("reservedLabel", { key: quote(key) }, document, childPointer("/metadata/labels", key), "key");
    }
  }
}
