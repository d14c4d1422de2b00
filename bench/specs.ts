import { SNAT_PORTS } from "../src/resolve/hetzner.js";

/**
 * Spec generators for the benchmarks: valid specs that grow along one axis at a
 * time (gateways, policies, port-block sources), written as the YAML a user
 * would write. Every generator is deterministic, so two runs compile the same
 * bytes.
 *
 * Policies model partner allowlists at scale: each policy reaches its own partner
 * endpoints, and its sources are either a whole team's range, which many policies
 * share, or one workload's address inside it. Policies then differ mostly by
 * destination, and every policy overlaps many others in the source axis: the
 * worst case for a check that compares policies pairwise.
 *
 *     policy i -> partner p = i mod 8 (egress IP partner-p+1), team t = p mod 4
 *       sources       partners 1-4: the team's 10.0.(16 + 16·t).0/20
 *                     partners 5-8: one address of that /20 per policy
 *       destinations  198.18.0.0/15 cut into one /18 per partner; one /30 per
 *                     policy every 8 addresses (so neighbours do not merge into one
 *                     range), every 128th policy also the /24 around its /30
 *
 * Destinations of different partners never overlap, so no two policies conflict;
 * a few destinations of one partner do, which the ruleset merges.
 */

/** Egress IPs that policies name; each holds at most 2,048 policies (a /18, 8 addresses each). */
export const PARTNERS = 8;
const TEAMS = 4;
const DESTINATIONS_PER_PARTNER = 2048;
export const MAX_POLICIES = PARTNERS * DESTINATIONS_PER_PARTNER;

/** The smallest power-of-two block Hetzner's port range tiles: 64,512 / 8 = 8,064 sources per egress IP. */
export const PORTS_PER_SOURCE = 8;
const SOURCES_PER_EGRESS_IP = Math.floor(SNAT_PORTS / PORTS_PER_SOURCE);

export interface GatewayOptions {
  readonly name: string;
  /** The second octet of the gateway's network 10.x.0.0/16, also its network id offset. */
  readonly network: number;
  readonly egressIPs: readonly string[];
  /** Sources allowed through (default: the whole network). */
  readonly sources?: string;
  readonly portsPerSource?: number;
}

function address(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join(".");
}

function gateway(options: GatewayOptions): string {
  const lines = [
    "apiVersion: natgw.dev/v1alpha1",
    "kind: NatGateway",
    "metadata:",
    `  name: ${options.name}`,
    "  labels: { team: platform }",
    "spec:",
    "  location: fsn1",
    `  network: { id: ${4700 + options.network}, ipRange: 10.${options.network}.0.0/16, subnet: 10.${options.network}.1.0/24 }`,
    "  members: { sshKeys: [ops] }",
    "  egressIPs:",
    ...options.egressIPs.map((name) => `    - name: ${name}`),
    ...(options.sources ? [`  sources: [${options.sources}]`] : []),
    ...(options.portsPerSource ? [`  portsPerSource: ${options.portsPerSource}`] : []),
    "  security:",
    "    sshAllowedCIDRs: [198.51.100.7/32]",
  ];
  return `${lines.join("\n")}\n`;
}

function policy(name: string, gatewayName: string, egressIP: string, sources: readonly string[], destinations: readonly string[]): string {
  return [
    "apiVersion: natgw.dev/v1alpha1",
    "kind: EgressNATPolicy",
    "metadata:",
    `  name: ${name}`,
    "spec:",
    `  sources: [${sources.map((cidr) => `{ cidr: ${cidr} }`).join(", ")}]`,
    `  destinations: [${destinations.map((cidr) => `{ cidr: ${cidr} }`).join(", ")}]`,
    `  gatewayRef: { name: ${gatewayName} }`,
    `  egressIP: ${egressIP}`,
    "",
  ].join("\n");
}

function documents(texts: readonly string[]): string {
  return texts.join("---\n");
}

const partnerName = (partner: number) => `partner-${partner + 1}`;

/** The `index`-th policy of gateway `gatewayName`, laid out as the module comment draws. */
function partnerPolicy(index: number, gatewayName: string): string {
  const partner = index % PARTNERS;
  const slot = Math.floor(index / PARTNERS);
  const team = partner % TEAMS;
  const teamRange = (10 << 24) + ((16 + 16 * team) << 8);
  const source = partner < TEAMS ? `${address(teamRange)}/20` : `${address(teamRange + slot)}/32`;
  const destination = 0xc6120000 + partner * DESTINATIONS_PER_PARTNER * 8 + slot * 8;
  const destinations = [`${address(destination)}/30`];
  if (slot % 128 === 127) destinations.push(`${address((destination & ~255) >>> 0)}/24`);
  return policy(`policy-${index + 1}`, gatewayName, partnerName(partner), [source], destinations);
}

/** `count` gateways on networks of their own, each like examples/ha.yaml with one partner policy. */
export function gatewaysSpec(count: number): string {
  const texts: string[] = [];
  for (let index = 0; index < count; index += 1) {
    const name = `bench-egress-${index + 1}`;
    texts.push(gateway({ name, network: index + 1, egressIPs: ["primary", "partner"] }));
    texts.push(
      policy(`bench-policy-${index + 1}`, name, "partner", [`10.${index + 1}.16.0/20`], [`${address(0xc6120000 + index * 256)}/24`]),
    );
  }
  return documents(texts);
}

/**
 * One gateway with `count` partner policies; with `portBlockPrefixLength`, its
 * sources are a network of that size with fixed port blocks of PORTS_PER_SOURCE,
 * and as many egress IPs that no policy names as the sources need.
 */
export function policiesSpec(count: number, portBlockPrefixLength?: number): string {
  if (count > MAX_POLICIES) throw new Error(`at most ${MAX_POLICIES} policies fit the generator's destinations`);
  const name = "bench-egress";
  const partners = Array.from({ length: Math.min(count, PARTNERS) }, (_, partner) => partnerName(partner));
  const portBlocks = portBlockOptions(portBlockPrefixLength);
  const texts = [gateway({ name, network: 0, egressIPs: ["primary", ...partners, ...portBlocks.spill], ...portBlocks.options })];
  for (let index = 0; index < count; index += 1) texts.push(partnerPolicy(index, name));
  return documents(texts);
}

/** One gateway whose sources, a network of `prefixLength`, each get a block of PORTS_PER_SOURCE ports. */
export function portBlocksSpec(prefixLength: number): string {
  return policiesSpec(0, prefixLength);
}

function portBlockOptions(prefixLength: number | undefined): { spill: string[]; options: Partial<GatewayOptions> } {
  if (prefixLength === undefined) return { spill: [], options: {} };
  if (prefixLength < 16 || prefixLength > 32) throw new Error(`port-block sources must be a /16 to a /32 of 10.0.0.0/16, not /${prefixLength}`);
  const sources = 2 ** (32 - prefixLength);
  // The first egress IP takes the first 8,064 sources; the rest spill in order.
  const spill = Math.ceil(sources / SOURCES_PER_EGRESS_IP) - 1;
  return {
    spill: Array.from({ length: spill }, (_, index) => `spill-${index + 1}`),
    options: { sources: `10.0.0.0/${prefixLength}`, portsPerSource: PORTS_PER_SOURCE },
  };
}
