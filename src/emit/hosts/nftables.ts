import { addressToNumber, cidr as parseCidr, compareRanges, formatRange, mergeRanges, type Cidr, type Ipv4Range } from "../../resolve/ip.js";
import type { GatewayModel } from "../../resolve/model.js";
import type { HostFile, MemberContext } from "./context.js";
import { fileHeader, HOST_PATHS } from "./context.js";
import { address, cidr, identifier, metricsPort } from "./safe.js";

/**
 * Hetzner private networks run at MTU 1450. A worker whose pods or tunnels assume
 * 1500 advertises an MSS of 1460, and the far end's full-size segments would not fit
 * the member's private link; so every forwarded SYN and SYN-ACK is clamped to the
 * private MTU minus the IPv4 and TCP headers. The kernel only ever lowers an MSS
 * with this statement, never raises it.
 */
export const PRIVATE_MTU_BYTES = 1450;
const IPV4_AND_TCP_HEADER_BYTES = 40;

const SSH_PORT = 22;
const SMTP_PORT = 25;
/** conntrackd's connection-state sync (conntrackd.ts), its own default UDP port: admitted from the peer only. */
export const SYNC_PORT = 3780;

/** Hetzner's NIC MAC prefixes: private network interfaces and the public one. */
export const PRIVATE_MAC_PREFIX = "86:00:00";
export const PUBLIC_MAC_PREFIX = "96:00:00";

/** natgw's main table, replaced by every load of the ruleset. */
export const NFT_TABLE = "inet natgw";

/**
 * The baseline table (baseline.nft): it needs no value known only on the host, so
 * it loads before the network and stays when the main table is stopped, reloaded
 * or gone. Its forward chain passes only packets the main table marked with
 * FORWARD_APPROVED_MARK, so a member without the main table forwards nothing.
 */
export const BASELINE_TABLE = "inet natgw_baseline";

/** One bit of the packet mark (nothing else on a member uses marks): "natgw accepted this forward". */
export const FORWARD_APPROVED_MARK = "0x00000100";

/** Files ruleset-runtime writes into HOST_PATHS.runtimeDir before every load of the ruleset. */
export const RUNTIME_FILES = {
  /** `define`s known only on the host: interface names and egress addresses. */
  runtime: "runtime.nft",
  /** `add element` lines for the port-block maps, expanded from config.json. */
  portBlocks: "port-blocks.nft",
} as const;

/** The nft variables runtime.nft defines for the private and public interfaces' names. */
export const INTERFACE_VARIABLES = { private: "private_if", public: "public_if" } as const;

/** The nft variable that runtime.nft defines for an egress IP's address. */
export function egressVariable(egressIPName: string): string {
  return `egress_${identifier(egressIPName)}`;
}

/** The port-block map of the sources whose traffic without a policy leaves from their default block. */
export const DEFAULT_PORT_MAP = "default_ports";

/** The port-block map of an egress IP that policies use. */
export function portMap(egressIPName: string): string {
  return `ports_${identifier(egressIPName)}`;
}

/** A range as nft writes it: a CIDR when aligned, `first-last` otherwise. */
function rangeText(range: Ipv4Range): string {
  const text = formatRange(range);
  if (text.includes("/")) return cidr(text);
  return text.split("-").map(address).join("-");
}

export interface PolicyElement {
  readonly source: string;
  readonly destination: string;
  readonly chain: string;
}

/**
 * The (source . destination) keys of every policy, per egress IP, as disjoint
 * rectangles. The kernel's concatenated interval sets (pipapo) refuse an element
 * whose corner lies inside another ("File exists"), and two policies to the same
 * egress IP may overlap, so the keys are cut along the source axis and the
 * destinations of each piece merged: one lookup then finds the egress IP, however
 * many policies there are.
 */
export function policyElements(gateway: GatewayModel): readonly PolicyElement[] {
  // Both members of a gateway render the same map: compute it once per gateway.
  let elements = elementsByGateway.get(gateway);
  if (!elements) {
    elements = computePolicyElements(gateway);
    elementsByGateway.set(gateway, elements);
  }
  return elements;
}

const elementsByGateway = new WeakMap<GatewayModel, readonly PolicyElement[]>();

function computePolicyElements(gateway: GatewayModel): PolicyElement[] {
  const policiesByEgressIP = new Map<string, GatewayModel["policies"][number][]>();
  for (const policy of gateway.policies) {
    const list = policiesByEgressIP.get(policy.egressIP) ?? [];
    list.push(policy);
    policiesByEgressIP.set(policy.egressIP, list);
  }
  const elements: { source: Ipv4Range; destination: Ipv4Range; chain: string }[] = [];
  for (const egressIP of gateway.egressIPs) {
    const rectangles = (policiesByEgressIP.get(egressIP.name) ?? []).flatMap((policy) =>
      policy.sources.flatMap((source) =>
        policy.destinations.map((destination) => ({ source: parseCidr(cidr(source)), destination: parseCidr(cidr(destination)) })),
      ),
    );
    if (rectangles.length === 0) continue;
    const chain = `snat_${identifier(egressIP.name)}`;
    for (const piece of sourcePieces(rectangles)) {
      for (const destination of piece.destinations) {
        elements.push({ source: piece.source, destination, chain });
      }
    }
  }
  return elements
    .sort((a, b) => compareRanges(a.source, b.source) || compareRanges(a.destination, b.destination))
    .map(({ source, destination, chain }) => ({ source: rangeText(source), destination: rangeText(destination), chain }));
}

interface SourceNode {
  readonly source: Cidr;
  /** Destinations of the rectangles with exactly this source. */
  readonly destinations: Ipv4Range[];
}

/**
 * Rectangles cut at every source boundary into pieces, each with the merged
 * destinations of every rectangle whose source covers it; neighbouring pieces with
 * the same destinations joined.
 *
 * Sources are CIDRs, so two of them nest or are disjoint: the sources covering a
 * piece are the narrowest one containing it and every source containing that one.
 * A sweep over the cut points keeps the sources open there on a stack, narrowest on
 * top, and each source's merged destinations are its own joined with those of the
 * source beneath it, computed once when it opens. Filtering every rectangle for
 * every piece instead would take time in the square of the policies.
 */
function sourcePieces(rectangles: readonly { source: Cidr; destination: Cidr }[]): { source: Ipv4Range; destinations: Ipv4Range[] }[] {
  const nodes = new Map<string, SourceNode>();
  for (const { source, destination } of rectangles) {
    const node = nodes.get(source.text) ?? { source, destinations: [] };
    node.destinations.push(destination);
    nodes.set(source.text, node);
  }
  // By first address, the wider source first, so a source opens after those containing it.
  const opening = [...nodes.values()].sort((a, b) => compareRanges(a.source, b.source));
  const cuts = [...new Set(rectangles.flatMap(({ source }) => [source.first, source.last + 1]))].sort((a, b) => a - b);
  const open: { source: Cidr; merged: Ipv4Range[] }[] = [];
  let next = 0;
  const pieces: { source: { first: number; last: number }; destinations: Ipv4Range[]; key: string }[] = [];
  for (let index = 0; index + 1 < cuts.length; index += 1) {
    const cut = cuts[index]!;
    while (open.length > 0 && open[open.length - 1]!.source.last < cut) open.pop();
    while (next < opening.length && opening[next]!.source.first === cut) {
      const { source, destinations } = opening[next]!;
      open.push({ source, merged: mergeRanges([...(open[open.length - 1]?.merged ?? []), ...destinations]) });
      next += 1;
    }
    const narrowest = open[open.length - 1];
    if (!narrowest) continue;
    const source = { first: cut, last: cuts[index + 1]! - 1 };
    const destinations = narrowest.merged;
    const key = JSON.stringify(destinations);
    const previous = pieces[pieces.length - 1];
    if (previous && previous.key === key && previous.source.last + 1 === source.first) previous.source.last = source.last;
    else pieces.push({ source, destinations, key });
  }
  return pieces;
}

/** The network's range and the sources, merged: source addresses that must never reach the internet. */
function privateSources(gateway: GatewayModel): string[] {
  return mergeRanges([gateway.network.ipRange, ...gateway.sources].map(parseCidr)).map(rangeText);
}

/** What both tables' input chains admit besides established traffic: SSH, VRRP and connection sync from the peer, metrics. */
function inputValues({ gateway, peer }: MemberContext) {
  return {
    sshAllowed: gateway.security.sshAllowedCIDRs.map(cidr).join(", "),
    sshPort: SSH_PORT,
    peer: peer ? { address: address(peer.privateIp), syncPort: SYNC_PORT } : null,
    metrics: gateway.metrics.enabled ? { port: metricsPort(gateway.metrics.port), network: cidr(gateway.network.ipRange) } : null,
  };
}

/**
 * The baseline table: SSH from sshAllowedCIDRs, VRRP and sync from the peer, metrics from
 * the private network, established traffic and loopback; forwarding only what the
 * main table approved. Every value comes from the spec, none from the host.
 */
export function baselineValues(context: MemberContext) {
  return {
    ...fileHeader(context),
    ...inputValues(context),
    table: BASELINE_TABLE,
    mainTable: NFT_TABLE,
    forwardMark: FORWARD_APPROVED_MARK,
  };
}

/**
 * Everything the ruleset shows. `runtimeDir` is where ruleset-runtime writes the
 * values known only on the host; tests point it at files they fabricate.
 */
export function rulesetValues(context: MemberContext, runtimeDir: string = HOST_PATHS.runtimeDir) {
  const { gateway } = context;
  const portBlocks = gateway.portBlocks;
  const policyEgressIPs = gateway.egressIPs.filter((egressIP) => egressIP.policies.length > 0);
  return {
    ...fileHeader(context),
    interfaceVariables: INTERFACE_VARIABLES,
    defaultPortMap: DEFAULT_PORT_MAP,
    runtimeFile: `${runtimeDir}/${RUNTIME_FILES.runtime}`,
    portBlocksFile: `${runtimeDir}/${RUNTIME_FILES.portBlocks}`,
    egressVariables: gateway.egressIPs.map((egressIP) => egressVariable(egressIP.name)),
    sources: gateway.sources.map(cidr).join(", "),
    privateSources: privateSources(gateway).join(", "),
    baselineTable: BASELINE_TABLE,
    forwardMark: FORWARD_APPROVED_MARK,
    blockedDestinations: gateway.security.blockedDestinations.map(cidr).join(", "),
    ...inputValues(context),
    blockSMTP25: gateway.security.blockSMTP25,
    smtpPort: SMTP_PORT,
    mssBytes: PRIVATE_MTU_BYTES - IPV4_AND_TCP_HEADER_BYTES,
    policyElements: policyElements(gateway),
    policyChains: policyEgressIPs.map((egressIP) => ({
      chain: `snat_${identifier(egressIP.name)}`,
      egressVariable: egressVariable(egressIP.name),
      portMap: portMap(egressIP.name),
    })),
    defaultEgressVariable: egressVariable(gateway.egressIPs.find((egressIP) => egressIP.isDefault)!.name),
    portBlocks: portBlocks && {
      // Which egress IP carries a source's traffic other than TCP and UDP (ICMP has
      // no ports to share): the one holding its default block.
      defaultEgress: portBlocks.segments
        .filter((segment) => segment.defaultTraffic)
        .map((segment) => ({
          sources: rangeText({ first: addressToNumber(address(segment.firstSource)), last: addressToNumber(address(segment.lastSource)) }),
          egressVariable: egressVariable(segment.egressIP),
        })),
    },
  };
}

/**
 * ruleset-runtime writes the values known only on the host. Port-block elements
 * are expanded there rather than rendered here: config.json carries them as
 * compact segments (first source, last source, first port), whereas the expanded
 * map for a /16 of sources would not fit Hetzner's 32 KiB user_data limit (4,000
 * sources already take about 231 KB, 46 KB gzipped).
 */
export const RULESET_RUNTIME_PATH = "/usr/local/lib/natgw/ruleset-runtime";

export const nftablesFiles: HostFile[] = [
  {
    hostPath: HOST_PATHS.baseline,
    role: "nftables",
    fileMode: "0644",
    values: (context) => baselineValues(context),
  },
  {
    hostPath: HOST_PATHS.ruleset,
    role: "nftables",
    fileMode: "0644",
    values: (context) => rulesetValues(context),
  },
  { hostPath: RULESET_RUNTIME_PATH, role: "script", fileMode: "0755", program: true },
];
