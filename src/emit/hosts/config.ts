import type { HostFile, MemberContext } from "./context.js";
import { HOST_PATHS } from "./context.js";
import { CONNTRACKD_RUNTIME_CONFIG } from "./conntrackd.js";
import { metricsValues } from "./metrics.js";
import { natLoggingValues } from "./natlog.js";
import { DEFAULT_PORT_MAP, egressVariable, INTERFACE_VARIABLES, portMap, PRIVATE_MAC_PREFIX, PUBLIC_MAC_PREFIX, RUNTIME_FILES } from "./nftables.js";
import { address, cidr, integer, label, metricsPort, networkName } from "./safe.js";
import { FIRST_SNAT_PORT, LAST_SNAT_PORT } from "../../resolve/hetzner.js";

/** The Hetzner Cloud API natgw-ctl talks to; the lab points it at an emulation. */
export const HETZNER_API_ENDPOINT = "https://api.hetzner.cloud/v1";

/**
 * The one file natgw-ctl and the other host programs read: everything they need
 * to know about this member, as natgw resolved it, down to the names they write
 * into the ruleset and the bounds they check, so no program derives a value a
 * second time. Values known only after `terraform apply` (server and network ids,
 * floating IP addresses) arrive separately in cloud.json.
 */
export function runtimeConfig(context: MemberContext) {
  const { gateway, member, peer } = context;
  const policyEgressIPs = new Set(gateway.egressIPs.filter((egressIP) => egressIP.policies.length > 0).map((egressIP) => egressIP.name));
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
      nftVariable: egressVariable(egressIP.name),
    })),
    policies: gateway.policies.map((policy) => ({
      name: label(policy.name),
      egressIP: label(policy.egressIP),
      sources: policy.sources.map(cidr),
      destinations: policy.destinations.map(cidr),
    })),
    interfaces: { privateMacPrefix: PRIVATE_MAC_PREFIX, publicMacPrefix: PUBLIC_MAC_PREFIX },
    ruleset: { interfaceVariables: INTERFACE_VARIABLES },
    portBlocks: gateway.portBlocks && {
      portsPerSource: gateway.portBlocks.portsPerSource,
      ports: { first: FIRST_SNAT_PORT, last: LAST_SNAT_PORT },
      segments: gateway.portBlocks.segments.map((segment) => ({
        egressIP: label(segment.egressIP),
        firstSource: address(segment.firstSource),
        lastSource: address(segment.lastSource),
        firstPort: integer(segment.firstPort, FIRST_SNAT_PORT, LAST_SNAT_PORT),
        // The maps its sources go into: the default one when their traffic without
        // a policy leaves from here, the egress IP's own when policies use it.
        maps: [...(segment.defaultTraffic ? [DEFAULT_PORT_MAP] : []), ...(policyEgressIPs.has(segment.egressIP) ? [portMap(segment.egressIP)] : [])],
      })),
    },
    security: {
      blockSMTP25: gateway.security.blockSMTP25,
      sshAllowedCIDRs: gateway.security.sshAllowedCIDRs.map(cidr),
      blockedDestinations: gateway.security.blockedDestinations.map(cidr),
    },
    metrics: { enabled: gateway.metrics.enabled, port: metricsPort(gateway.metrics.port), ...metricsValues() },
    natLogging: natLoggingValues(context),
    vrrp: gateway.vrrp,
    api: { endpoint: HETZNER_API_ENDPOINT, tokenFile: HOST_PATHS.token, cloudFile: HOST_PATHS.cloud },
    paths: {
      runtimeDir: HOST_PATHS.runtimeDir,
      stateDir: HOST_PATHS.stateDir,
      textfileDir: HOST_PATHS.textfileDir,
      baselineFile: HOST_PATHS.baseline,
      runtimeFile: `${HOST_PATHS.runtimeDir}/${RUNTIME_FILES.runtime}`,
      portBlocksFile: `${HOST_PATHS.runtimeDir}/${RUNTIME_FILES.portBlocks}`,
      interfaces: HOST_PATHS.interfaces,
      sysctlFile: HOST_PATHS.sysctl,
      ctl: HOST_PATHS.ctl,
      takeover: HOST_PATHS.takeover,
      conntrackdConfig: CONNTRACKD_RUNTIME_CONFIG,
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
