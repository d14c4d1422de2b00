import { posix } from "node:path";
import { count } from "../diagnostics/quote.js";
import { SNAT_PORTS } from "../resolve/hetzner.js";
import { addressToNumber } from "../resolve/ip.js";
import type { EgressIPModel, GatewayModel, MemberModel, Model, PortBlocksModel } from "../resolve/model.js";
import { BYTES_PER_CONNTRACK_ENTRY } from "../resolve/server-types.js";
import type { Artifact } from "./artifact.js";
import { render } from "./hosts/render.js";
import { address, cidr, integer, label, networkName } from "./hosts/safe.js";
import { CONNTRACK_ALERT_RATIO } from "./monitoring.js";
import { stackPath } from "./terraform/terraform.js";

/** "edge", "id 5150", "edge-egress-network (created by Terraform)": the network as the page names it. */
function networkTitle(gateway: GatewayModel): string {
  const network = gateway.network;
  if (network.id !== null) return `id ${integer(network.id, 1, Number.MAX_SAFE_INTEGER)}`;
  const name = networkName(network.name!);
  return network.create ? `${name} (created by Terraform)` : name;
}

function memberRole(gateway: GatewayModel, member: MemberModel): string {
  if (gateway.mode === "single") return "active";
  return member.initialRole === "active" ? "active (MASTER)" : "standby (BACKUP)";
}

function egressOrigin(egressIP: EgressIPModel): string {
  if (egressIP.floatingIPId !== null) return `existing floating IP ${integer(egressIP.floatingIPId, 1, Number.MAX_SAFE_INTEGER)}`;
  return egressIP.deleteProtection ? "created by Terraform, delete-protected" : "created by Terraform";
}

/** What leaves from an egress IP: default traffic (all of it, or the sources that spill onto it) and its policies. */
function egressCarries(gateway: GatewayModel, egressIP: EgressIPModel): string {
  const carries: string[] = [];
  if (egressIP.isDefault) carries.push("default traffic");
  else if (egressIP.defaultPool) carries.push("default traffic of the sources whose port blocks spill over");
  carries.push(...egressIP.policies.map(label));
  return carries.length > 0 ? carries.join(", ") : "nothing: no policy names it";
}

/** How many sources' default traffic leaves from an egress IP, with port blocks; null without. */
function defaultSources(gateway: GatewayModel, egressIP: EgressIPModel): string | null {
  const blocks = gateway.portBlocks;
  if (!blocks) return null;
  return count(
    blocks.segments
      .filter((segment) => segment.egressIP === egressIP.name && segment.defaultTraffic)
      .reduce((sum, s) => sum + addressToNumber(s.lastSource) - addressToNumber(s.firstSource) + 1, 0),
  );
}

/** Per egress IP: the sources holding a block there, blocks used and blocks free. */
function portBlockRows(blocks: PortBlocksModel, gateway: GatewayModel) {
  return gateway.egressIPs.map((egressIP) => {
    const segments = blocks.segments.filter((segment) => segment.egressIP === egressIP.name);
    const used = segments.reduce((sum, s) => sum + addressToNumber(s.lastSource) - addressToNumber(s.firstSource) + 1, 0);
    const sources = segments.map((s) =>
      s.firstSource === s.lastSource ? address(s.firstSource) : `${address(s.firstSource)}–${address(s.lastSource)}`,
    );
    return {
      egressIP: label(egressIP.name),
      sources: sources.length > 0 ? sources.join(", ") : "none",
      used: count(used),
      free: count(blocks.blocksPerEgressIP - used),
    };
  });
}

function mebibytes(bytes: number): string {
  return `${count(Math.round(bytes / 2 ** 20))} MiB`;
}

function diagramValues(gateway: GatewayModel) {
  const members = gateway.members.map((member) => {
    const [name, privateIp, role] = [label(member.name), address(member.privateIp), memberRole(gateway, member)];
    return { id: `member${member.index}`, name, privateIp, role, active: member.initialRole === "active" };
  });
  const title = networkTitle(gateway);
  const egressId = (name: string) => `egress${gateway.egressIPs.findIndex((egressIP) => egressIP.name === name) + 1}`;
  const host = gateway.host;
  const blocks = gateway.portBlocks;
  return {
    gateway: label(gateway.name),
    ha: gateway.mode === "ha",
    location: gateway.location,
    network: {
      title,
      ipRange: cidr(gateway.network.ipRange),
      subnet: cidr(gateway.network.subnet),
      zone: gateway.network.zone,
      routerIp: address(gateway.network.routerIp),
    },
    sources: gateway.sources.map(cidr),
    routes: gateway.routes.map(cidr),
    members,
    active: members.find((member) => member.active)!,
    standby: members.find((member) => !member.active) ?? null,
    egressIPs: gateway.egressIPs.map((egressIP) => {
      const [name, origin] = [label(egressIP.name), egressOrigin(egressIP)];
      return {
        id: egressId(egressIP.name),
        name,
        origin,
        carries: egressCarries(gateway, egressIP),
        defaultPool: egressIP.defaultPool,
        defaultSources: defaultSources(gateway, egressIP),
      };
    }),
    policies: gateway.policies.map((policy, index) => {
      const [name, sources, destinations] = [label(policy.name), policy.sources.map(cidr).join(", "), policy.destinations.map(cidr).join(", ")];
      return {
        id: `policy${index + 1}`,
        name,
        sources,
        destinations,
        egressIP: label(policy.egressIP),
        egressId: egressId(policy.egressIP),
      };
    }),
    defaultEgressIP: label(gateway.egressIPs.find((egressIP) => egressIP.isDefault)!.name),
    portBlocks: blocks && {
      portsPerSource: count(blocks.portsPerSource),
      firstPort: blocks.firstPort,
      lastPort: blocks.lastPort,
      blocksPerEgressIP: count(blocks.blocksPerEgressIP),
      rows: portBlockRows(blocks, gateway),
    },
    snatPorts: count(SNAT_PORTS),
    conntrack: {
      serverType: gateway.members[0]!.serverType,
      memory: `${count(host.memoryMiB / 1024)} GiB`,
      max: count(host.conntrackMax),
      buckets: count(host.conntrackBuckets),
      fullMemory: mebibytes(host.conntrackMax * BYTES_PER_CONNTRACK_ENTRY),
      // NatgwConntrackNearlyFull watches the table only where the members export metrics.
      alertAt: gateway.metrics.enabled ? count(Math.ceil(host.conntrackMax * CONNTRACK_ALERT_RATIO)) : "none (metrics off)",
      alertPercent: Math.round(CONNTRACK_ALERT_RATIO * 100),
    },
    stack: posix.dirname(stackPath(label(gateway.name))),
  };
}

/**
 * One Markdown page per gateway (`diagrams/<gateway>.md`): a Mermaid picture of
 * the network, the members, the routes, the policies and the egress IPs, which
 * GitHub and GitLab render where the page is viewed, then the same facts as
 * tables with the capacity they imply.
 */
export function emitDiagrams(model: Model): Artifact[] {
  return model.gateways.map((gateway) => ({
    path: `diagrams/${label(gateway.name)}.md`,
    role: "diagram",
    gateway: gateway.name,
    member: null,
    fileMode: "0644",
    content: render("diagrams/gateway.md.njk", diagramValues(gateway)),
  }));
}
