import type { HostFile, MemberContext } from "./context.js";
import { HOST_PATHS } from "./context.js";
import { address, cidr, integer, label, networkName } from "./safe.js";

/** The Hetzner Cloud API natgw-ctl talks to; the lab points it at an emulation. */
export const HETZNER_API_ENDPOINT = "https://api.hetzner.cloud/v1";

/**
 * The one file natgw-ctl and the other host scripts read: everything they need to
 * know about this member, as natgw resolved it. Values known only after
 * `terraform apply` (server and network ids, floating IP addresses) arrive
 * separately in cloud.json.
 */
export function runtimeConfig({ gateway, member, peer }: MemberContext) {
  return {
    version: 1,
    gateway: label(gateway.name),
    mode: gateway.mode,
    member: { name: label(member.name), index: integer(member.index, 1, 2), privateIp: address(member.privateIp), initialRole: member.initialRole },
    peer: peer ? { name: label(peer.name), privateIp: address(peer.privateIp) } : null,
    network: {
      id: gateway.network.id,
      name: gateway.network.name === null ? null : networkName(gateway.network.name),
      ipRange: cidr(gateway.network.ipRange),
      subnet: cidr(gateway.network.subnet),
      routerIp: address(gateway.network.routerIp),
    },
    routes: gateway.routes.map(cidr),
    sources: gateway.sources.map(cidr),
    egressIPs: gateway.egressIPs.map((egressIP) => ({
      name: label(egressIP.name),
      floatingIPId: egressIP.floatingIPId,
      isDefault: egressIP.isDefault,
      defaultPool: egressIP.defaultPool,
    })),
    policies: gateway.policies.map((policy) => ({
      name: label(policy.name),
      egressIP: label(policy.egressIP),
      sources: policy.sources.map(cidr),
      destinations: policy.destinations.map(cidr),
    })),
    portBlocks: gateway.portBlocks && {
      portsPerSource: gateway.portBlocks.portsPerSource,
      segments: gateway.portBlocks.segments.map((segment) => ({
        egressIP: label(segment.egressIP),
        firstSource: address(segment.firstSource),
        lastSource: address(segment.lastSource),
        firstPort: integer(segment.firstPort, 1024, 65535),
        defaultTraffic: segment.defaultTraffic,
      })),
    },
    security: {
      blockSMTP25: gateway.security.blockSMTP25,
      sshAllowedCIDRs: gateway.security.sshAllowedCIDRs.map(cidr),
      blockedDestinations: gateway.security.blockedDestinations.map(cidr),
    },
    metrics: { enabled: gateway.metrics.enabled, port: integer(gateway.metrics.port, 1024, 65535) },
    vrrp: gateway.vrrp,
    api: { endpoint: HETZNER_API_ENDPOINT, tokenFile: HOST_PATHS.token, cloudFile: HOST_PATHS.cloud },
    paths: {
      runtimeDir: HOST_PATHS.runtimeDir,
      stateDir: HOST_PATHS.stateDir,
      textfileDir: HOST_PATHS.textfileDir,
      baselineFile: HOST_PATHS.baseline,
      sysctlFile: HOST_PATHS.sysctl,
      ctl: HOST_PATHS.ctl,
      takeover: HOST_PATHS.takeover,
    },
  };
}

export const configFiles: HostFile[] = [
  {
    hostPath: HOST_PATHS.config,
    role: "config",
    fileMode: "0644",
    values: (context) => ({ config: JSON.stringify(runtimeConfig(context), null, 2) }),
  },
];
