import type { Diagnostic } from "../diagnostics/diagnostic.js";
import { quote } from "../diagnostics/quote.js";
import type { SourceDocument } from "../load/document.js";
import type { EgressNATPolicy } from "../spec/types.generated.js";
import { API_VERSION } from "../load/document.js";
import { allocateMemberAddresses } from "./addresses.js";
import { bastionModel, checkBastion } from "./bastion.js";
import { checkEgressIPs } from "./egress.js";
import { LINK_LOCAL, routerAddress } from "./hetzner.js";
import { gatewayInput, policyInput, type GatewayInput, type PolicyInput } from "./inputs.js";
import { assertModelInvariants } from "./invariants.js";
import { cidr, compareRanges, numberToAddress } from "./ip.js";
import { hostSizing, vrrpSettings } from "./host.js";
import type { GatewayModel, HostModel, Model, PortBlocksModel, VrrpModel } from "./model.js";
import { checkNetworks } from "./network.js";
import { bindPolicies, checkPolicies, type BoundPolicy } from "./policies.js";
import { allocatePortBlocks } from "./ports.js";
import { Reporter } from "./reporter.js";
import { checkRequirements } from "./requirements.js";
import { checkRoutes } from "./routes.js";
import { compareText } from "../util/order.js";

export interface ResolveResult {
  /** Present when there is no error (warnings may accompany it). */
  readonly model?: Model;
  readonly diagnostics: Diagnostic[];
}

/**
 * documents -> model: defaults, references, IP math, allocations, port blocks and
 * requirement checks. Pure and deterministic; expects schema-valid documents.
 */
export function resolve(documents: readonly SourceDocument[]): ResolveResult {
  const reporter = new Reporter();
  const gatewayDocuments = unique(documents.filter((d) => d.kind === "NatGateway"), "NatGateway", reporter);
  const policyDocuments = unique(documents.filter((d) => d.kind === "EgressNATPolicy"), "EgressNATPolicy", reporter);

  const gateways = gatewayDocuments.map((document) => gatewayInput(document, reporter)).filter(isDefined);
  const policies = policyDocuments.map((document) => policyInput(document, reporter)).filter(isDefined);

  checkNetworks(gateways, reporter);
  checkRoutes(gateways, reporter);
  checkEgressIPs(gateways, reporter);
  const addresses = allocateMemberAddresses(gateways, reporter);
  const gatewaysByName = new Map(gateways.map((gateway) => [gateway.settings.name, gateway]));
  const declared = gatewayDocuments.map((document) => nameOf(document)).sort();
  const bound = bindPolicies(policies, gatewaysByName, declared, reporter);
  checkPolicies(bound, reporter);

  const vrrp = vrrpSettings(gateways, reporter);
  const models: GatewayModel[] = [];
  for (const gateway of gateways) {
    checkRequirements(gateway, reporter);
    checkBastion(gateway, reporter);
    const own = bound.filter((policy) => policy.gateway === gateway);
    warnUnusedEgressIPs(gateway, policyDocuments, declared, reporter);
    const portBlocks = allocatePortBlocks(gateway, own, reporter);
    const memberAddresses = addresses.get(gateway.settings.name);
    const host = hostSizing(gateway, reporter);
    if (portBlocks !== undefined && memberAddresses) {
      models.push(gatewayModel(gateway, own, memberAddresses, portBlocks, vrrp.get(gateway.settings.name) ?? null, host));
    }
  }

  if (reporter.errorCount > 0) return { diagnostics: reporter.diagnostics };
  const model: Model = { apiVersion: API_VERSION, gateways: models.sort((a, b) => compareText(a.name, b.name)) };
  assertModelInvariants(model);
  return { model, diagnostics: reporter.diagnostics };
}

function gatewayModel(
  gateway: GatewayInput,
  policies: readonly BoundPolicy[],
  memberAddresses: readonly string[],
  portBlocks: PortBlocksModel | null,
  vrrp: VrrpModel | null,
  host: HostModel,
): GatewayModel {
  const { settings } = gateway;
  const mode = settings.highAvailability.enabled ? "ha" : "single";
  const named = new Set(policies.map((policy) => policy.egressIP));
  return {
    name: settings.name,
    labels: sortedRecord(settings.labels),
    location: settings.location,
    mode,
    network: {
      key: gateway.networkKey,
      id: settings.network.id ?? null,
      name: settings.network.id === undefined ? gateway.networkKey.slice("name:".length) : (settings.network.name ?? null),
      create: settings.network.create,
      ipRange: gateway.ipRange.text,
      subnet: gateway.subnet.text,
      zone: settings.network.zone,
      routerIp: numberToAddress(routerAddress(gateway.ipRange)),
    },
    members: memberAddresses.map((privateIp, index) => ({
      name: `${settings.name}-${index + 1}`,
      index: index + 1,
      initialRole: index === 0 ? "active" : "standby",
      privateIp,
      serverType: settings.members.serverType,
      image: settings.members.image,
      sshKeys: [...settings.members.sshKeys],
    })),
    bastion: bastionModel(settings.members.bastion),
    egressIPs: settings.egressIPs.map((egressIP, index) => ({
      name: egressIP.name,
      floatingIPId: egressIP.floatingIPId ?? null,
      deleteProtection: egressIP.deleteProtection,
      isDefault: index === 0,
      defaultPool: index === 0 || (settings.portsPerSource !== null && !named.has(egressIP.name)),
      policies: policies.filter((policy) => policy.egressIP === egressIP.name).map((policy) => policy.input.name).sort(compareText),
    })),
    ipv6: { enabled: settings.ipv6.enabled },
    routes: sortedCidrs(gateway.routes.map((route) => route.value.text)),
    sources: sortedCidrs(gateway.sources.map((source) => source.value.text)),
    policies: [...policies]
      .sort((a, b) => compareText(a.input.name, b.input.name))
      .map((policy) => policyModel(policy.input, policy.egressIP)),
    portBlocks,
    security: {
      blockSMTP25: settings.security.blockSMTP25,
      sshAllowedCIDRs: sortedCidrs(gateway.sshAllowedCIDRs.map((entry) => entry.value.text)),
      blockedDestinations: [LINK_LOCAL.text],
    },
    metrics: { enabled: settings.metrics.enabled, port: settings.metrics.port },
    natLogging: { ...settings.natLogging },
    cluster: { apiAllowedNetworks: sortedCidrs(gateway.apiAllowedNetworks.map((entry) => entry.value.text)) },
    vrrp,
    host,
  };
}

function policyModel(policy: PolicyInput, egressIP: string) {
  return {
    name: policy.name,
    labels: sortedRecord(policy.labels),
    action: "SNAT" as const,
    egressIP,
    sources: sortedCidrs(policy.sources.map((source) => source.value.text)),
    destinations: sortedCidrs(policy.destinations.map((destination) => destination.value.text)),
  };
}

/** Keeps the first document of each name and reports the others. */
function unique(documents: readonly SourceDocument[], kind: string, reporter: Reporter): SourceDocument[] {
  const first = new Map<string, SourceDocument>();
  for (const document of documents) {
    const name = nameOf(document);
    const earlier = first.get(name);
    if (earlier) {
      reporter.report(
        "duplicateName",
        { kind, name: quote(name), first: reporter.where(earlier, "/metadata/name") },
        document,
        "/metadata/name",
      );
    } else {
      first.set(name, document);
    }
  }
  return [...first.values()];
}

function nameOf(document: SourceDocument): string {
  return (document.data.metadata as { name: string }).name;
}

function sortedCidrs(texts: readonly string[]): string[] {
  return [...new Set(texts)].map((text) => cidr(text)).sort(compareRanges).map((range) => range.text);
}

function sortedRecord(record: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => compareText(a, b)));
}

function isDefined<T>(value: T | undefined): value is T {
  return value !== undefined;
}

/**
 * Without port blocks, an egress IP that is not the first and that no policy
 * names carries nothing. Every policy document counts, also one that failed its
 * own checks, and one whose gatewayRef leads nowhere (it most likely meant this
 * gateway): their errors already speak for them.
 */
function warnUnusedEgressIPs(
  gateway: GatewayInput,
  policyDocuments: readonly SourceDocument[],
  declaredGateways: readonly string[],
  reporter: Reporter,
): void {
  if (gateway.settings.portsPerSource !== null) return;
  const names = gateway.settings.egressIPs.map((egressIP) => egressIP.name);
  const named = new Set(
    policyDocuments
      .map((document) => (document.data as unknown as EgressNATPolicy).spec)
      .filter((spec) => spec.gatewayRef.name === gateway.settings.name || !declaredGateways.includes(spec.gatewayRef.name))
      .map((spec) => spec.egressIP),
  );
  // A policy naming an egress IP the gateway lacks most likely meant one of these.
  if ([...named].some((name) => name !== undefined && !names.includes(name))) return;
  const seen = new Set<string>();
  gateway.settings.egressIPs.forEach((egressIP, index) => {
    // A repeated name is an error of its own (NATGW204), not an unused address.
    if (index > 0 && !named.has(egressIP.name) && !seen.has(egressIP.name)) {
      reporter.report("unusedEgressIP", { name: quote(egressIP.name) }, gateway.document, `/spec/egressIPs/${index}`);
    }
    seen.add(egressIP.name);
  });
}
