import { cidr, addressToNumber, containsAddress, mergeRanges, totalSize } from "./ip.js";
import type { GatewayModel, Model } from "./model.js";

/**
 * Checks what every model must satisfy, whatever the spec said. A failure here is a
 * bug in natgw, not in the spec: it stops the build loudly instead of emitting a
 * wrong configuration.
 */
export function assertModelInvariants(model: Model): void {
  const routeOwners = new Map<string, string>();
  for (const gateway of model.gateways) {
    assertGateway(gateway);
    for (const route of gateway.routes) {
      const key = `${gateway.network.key} ${route}`;
      const owner = routeOwners.get(key);
      if (owner) fail(`route ${route} on ${gateway.network.key} is owned by ${owner} and ${gateway.name}`);
      routeOwners.set(key, gateway.name);
    }
  }
}

function assertGateway(gateway: GatewayModel): void {
  const expectedMembers = gateway.mode === "ha" ? 2 : 1;
  if (gateway.members.length !== expectedMembers) fail(`${gateway.name} has ${gateway.members.length} members in ${gateway.mode} mode`);
  if (gateway.members.filter((member) => member.initialRole === "active").length !== 1) {
    fail(`${gateway.name} does not have exactly one active member`);
  }
  const subnet = cidr(gateway.network.subnet);
  const addresses = new Set<string>();
  for (const member of gateway.members) {
    if (!containsAddress(subnet, addressToNumber(member.privateIp))) fail(`${member.name} ${member.privateIp} is outside ${subnet.text}`);
    if (addresses.has(member.privateIp)) fail(`${gateway.name} gives ${member.privateIp} to two members`);
    addresses.add(member.privateIp);
  }
  const egressNames = new Set(gateway.egressIPs.map((egressIP) => egressIP.name));
  if (gateway.egressIPs.filter((egressIP) => egressIP.isDefault).length !== 1) fail(`${gateway.name} needs one default egress IP`);
  for (const policy of gateway.policies) {
    if (!egressNames.has(policy.egressIP)) fail(`policy ${policy.name} names missing egress IP ${policy.egressIP}`);
  }
  if ((gateway.mode === "ha") !== (gateway.vrrp !== null)) fail(`${gateway.name} has VRRP settings only in HA`);
  if (gateway.portBlocks) assertPortBlocks(gateway);
}

function assertPortBlocks(gateway: GatewayModel): void {
  const blocks = gateway.portBlocks!;
  const used = new Map<string, { first: number; last: number }[]>();
  const defaultSources: { first: number; last: number }[] = [];
  for (const segment of blocks.segments) {
    const first = addressToNumber(segment.firstSource);
    const last = addressToNumber(segment.lastSource);
    const lastPort = segment.firstPort + (last - first + 1) * blocks.portsPerSource - 1;
    if (segment.firstPort < blocks.firstPort || lastPort > blocks.lastPort) {
      fail(`${gateway.name}: block ${segment.firstPort}-${lastPort} on ${segment.egressIP} leaves ${blocks.firstPort}-${blocks.lastPort}`);
    }
    const ports = used.get(segment.egressIP) ?? [];
    if (ports.some((range) => range.first <= lastPort && segment.firstPort <= range.last)) {
      fail(`${gateway.name}: overlapping port blocks on ${segment.egressIP}`);
    }
    ports.push({ first: segment.firstPort, last: lastPort });
    used.set(segment.egressIP, ports);
    if (segment.defaultTraffic) defaultSources.push({ first, last });
  }
  const sources = mergeRanges(gateway.sources.map((text) => cidr(text)));
  const placed = mergeRanges(defaultSources);
  if (totalSize(placed) !== totalSize(defaultSources) || totalSize(placed) !== totalSize(sources)) {
    fail(`${gateway.name}: not every source has exactly one default port block`);
  }
}

function fail(message: string): never {
  throw new Error(`natgw bug: model invariant broken: ${message}`);
}
