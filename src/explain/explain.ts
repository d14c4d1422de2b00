
import { addressToNumber, cidr, containsAddress, type Cidr } from "../resolve/ip.js";
import type { GatewayModel, MemberModel, Model, PolicyModel } from "../resolve/model.js";

export type Protocol = "tcp" | "udp";

export interface Flow {
  readonly source: string;
  readonly destination: string;
  readonly port: number | null;
  readonly protocol: Protocol;
}

/** What the gateway does with a flow: where it goes and what the internet sees, or why it never leaves. */
export interface Explanation {
  readonly flow: Flow;
  readonly verdict: "snat" | "dropped" | "not-forwarded";
  /** Why the flow is dropped or not forwarded; null for SNAT. */
  readonly reason: string | null;
  readonly gateway: string | null;
  readonly network: string | null;
  readonly route: string | null;
  readonly activeMember: { readonly name: string; readonly privateIp: string } | null;
  readonly policy: string | null;
  readonly egressIP: { readonly name: string; readonly floatingIPId: number | null } | null;
  readonly portBlock: { readonly first: number; readonly last: number; readonly portsPerSource: number } | null;
}

/**
 * Follows one flow through the model the way the network and the generated
 * ruleset will: Hetzner's network routes pick the gateway (longest prefix), the
 * forward chain's drops apply, then the policies and the port blocks.
 */
export function explain(model: Model, flow: Flow): Explanation {
  const source = addressToNumber(flow.source);
  const destination = addressToNumber(flow.destination);
  const none = { gateway: null, network: null, route: null, activeMember: null, policy: null, egressIP: null, portBlock: null };
  const stop = (verdict: Explanation["verdict"], reason: string, partial: Partial<Explanation> = {}): Explanation => ({
    flow,
    verdict,
    reason,
    ...none,
    ...partial,
  });

  const onNetwork = model.gateways.filter((gateway) => containsAddress(cidr(gateway.network.ipRange), source));
  if (onNetwork.length === 0) {
    return stop("not-forwarded", `${flow.source} is on none of the gateways' networks (${model.gateways.map((g) => g.network.ipRange).join(", ")})`);
  }
  const network = onNetwork[0]!.network;
  const networkName = describeNetwork(onNetwork[0]!);
  if (containsAddress(cidr(network.ipRange), destination)) {
    return stop("not-forwarded", `${flow.destination} is inside the private network ${network.ipRange}; Hetzner delivers it directly`, {
      network: networkName,
    });
  }
  const routed = longestRoute(onNetwork, destination);
  if (!routed) {
    return stop("not-forwarded", `no network route covers ${flow.destination}, so it never reaches a gateway`, { network: networkName });
  }
  const { gateway, route } = routed;
  const active = gateway.members.find((member) => member.initialRole === "active")!;
  const reached = { gateway: gateway.name, network: networkName, route: route.text, activeMember: memberRef(active) };

  if (!gateway.sources.some((text) => containsAddress(cidr(text), source))) {
    return stop("dropped", `${flow.source} is not in the gateway's sources (${gateway.sources.join(", ")})`, reached);
  }
  const blocked = gateway.security.blockedDestinations.find((text) => containsAddress(cidr(text), destination));
  if (blocked) {
    return stop("dropped", `forwarded traffic to ${blocked} (link-local, the metadata service) is always dropped`, reached);
  }
  if (gateway.security.blockSMTP25 && flow.protocol === "tcp" && flow.port === 25) {
    return stop("dropped", "outbound TCP port 25 is dropped (security.blockSMTP25)", reached);
  }

  const policy = gateway.policies.find((candidate) => matches(candidate, source, destination)) ?? null;
  const egressName = policy ? policy.egressIP : defaultEgressIP(gateway, source);
  const egressIP = gateway.egressIPs.find((candidate) => candidate.name === egressName)!;
  return {
    flow,
    verdict: "snat",
    reason: null,
    ...reached,
    policy: policy?.name ?? null,
    egressIP: { name: egressIP.name, floatingIPId: egressIP.floatingIPId },
    portBlock: portBlock(gateway, egressIP.name, source, policy === null),
  };
}

function longestRoute(gateways: readonly GatewayModel[], destination: number): { gateway: GatewayModel; route: Cidr } | undefined {
  let best: { gateway: GatewayModel; route: Cidr } | undefined;
  for (const gateway of gateways) {
    for (const text of gateway.routes) {
      const route = cidr(text);
      if (containsAddress(route, destination) && (!best || route.prefixLength > best.route.prefixLength)) best = { gateway, route };
    }
  }
  return best;
}

function matches(policy: PolicyModel, source: number, destination: number): boolean {
  return (
    policy.sources.some((text) => containsAddress(cidr(text), source)) &&
    policy.destinations.some((text) => containsAddress(cidr(text), destination))
  );
}

/** Default traffic leaves from the first egress IP, or with port blocks from the pool member holding the source's block. */
function defaultEgressIP(gateway: GatewayModel, source: number): string {
  const segment = gateway.portBlocks?.segments.find(
    (candidate) => candidate.defaultTraffic && containsAddress(segmentRange(candidate), source),
  );
  return segment?.egressIP ?? gateway.egressIPs.find((egressIP) => egressIP.isDefault)!.name;
}

function portBlock(gateway: GatewayModel, egressIP: string, source: number, defaultTraffic: boolean): Explanation["portBlock"] {
  const blocks = gateway.portBlocks;
  if (!blocks) return null;
  const segment = blocks.segments.find(
    (candidate) =>
      candidate.egressIP === egressIP &&
      (!defaultTraffic || candidate.defaultTraffic) &&
      containsAddress(segmentRange(candidate), source),
  );
  if (!segment) throw new Error(`natgw bug: no port block for ${source} on ${egressIP}`);
  const first = segment.firstPort + (source - addressToNumber(segment.firstSource)) * blocks.portsPerSource;
  return { first, last: first + blocks.portsPerSource - 1, portsPerSource: blocks.portsPerSource };
}

function segmentRange(segment: { firstSource: string; lastSource: string }) {
  return { first: addressToNumber(segment.firstSource), last: addressToNumber(segment.lastSource) };
}

function memberRef(member: MemberModel) {
  return { name: member.name, privateIp: member.privateIp };
}

function describeNetwork(gateway: GatewayModel): string {
  return gateway.network.id !== null ? `${gateway.network.id}` : (gateway.network.name ?? gateway.network.key);
}

