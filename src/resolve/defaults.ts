import type {
  Bastion,
  Cluster,
  EgressIP,
  HighAvailability,
  IPv6,
  Members,
  Metrics,
  NatGateway,
  NatLogging,
  Network,
  Security,
} from "../spec/types.generated.js";
import { schemaDefault } from "../spec/schema.js";
import { ZONE_OF_LOCATION, type Location } from "./hetzner.js";

/**
 * The one place defaults are applied. Values come from the schema's `default`
 * keywords (what editors show); the defaults that depend on other fields are
 * computed here and documented in the schema's descriptions.
 */
export interface GatewaySettings {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly location: Location;
  readonly network: Required<Omit<Network, "id" | "name">> & Pick<Network, "id" | "name">;
  readonly cluster: { privateNetworking: boolean; hostFirewall: boolean; privateOnly: boolean; apiAllowedNetworks: string[] };
  readonly highAvailability: Required<HighAvailability>;
  readonly members: Required<Omit<Members, "privateIPs" | "bastion">> & Pick<Members, "privateIPs"> & { readonly bastion: BastionSettings | null };
  readonly egressIPs: readonly EgressIPSettings[];
  readonly ipv6: Required<IPv6>;
  readonly routes: readonly string[];
  readonly sources: readonly string[];
  readonly portsPerSource: number | null;
  readonly security: Required<Security>;
  readonly metrics: Required<Metrics>;
  readonly natLogging: Required<NatLogging>;
}

/** A bastion with its defaults; the host key stays optional, since only the user can know it. */
export type BastionSettings = Required<Omit<Bastion, "hostKey">> & Pick<Bastion, "hostKey">;

/**
 * An egress IP with its delete protection settled: the schema's default for a
 * floating IP natgw creates, null for an existing one (`floatingIPId`), which
 * natgw only looks up and whose protection is set in Hetzner.
 */
export type EgressIPSettings = Omit<EgressIP, "deleteProtection"> & { readonly deleteProtection: boolean | null };

export function gatewaySettings(gateway: NatGateway): GatewaySettings {
  const spec = gateway.spec;
  const cluster: Cluster = spec.cluster ?? {};
  const members: Members = spec.members;
  return {
    name: gateway.metadata.name,
    labels: gateway.metadata.labels ?? schemaDefault("Labels"),
    location: spec.location,
    network: {
      ...spec.network,
      create: spec.network.create ?? schemaDefault("Network", "create"),
      zone: spec.network.zone ?? ZONE_OF_LOCATION[spec.location],
    },
    cluster: {
      privateNetworking: cluster.privateNetworking ?? schemaDefault("Cluster", "privateNetworking"),
      hostFirewall: cluster.hostFirewall ?? schemaDefault("Cluster", "hostFirewall"),
      privateOnly: cluster.controlPlane?.privateOnly ?? schemaDefault("Cluster", "controlPlane", "privateOnly"),
      apiAllowedNetworks: cluster.apiAllowedNetworks ?? schemaDefault("Cluster", "apiAllowedNetworks"),
    },
    highAvailability: {
      enabled: spec.highAvailability?.enabled ?? schemaDefault("HighAvailability", "enabled"),
      advertIntervalSeconds: spec.highAvailability?.advertIntervalSeconds ?? schemaDefault("HighAvailability", "advertIntervalSeconds"),
      preempt: spec.highAvailability?.preempt ?? schemaDefault("HighAvailability", "preempt"),
    },
    members: {
      serverType: members.serverType ?? schemaDefault("Members", "serverType"),
      image: members.image ?? schemaDefault("Members", "image"),
      ...(members.privateIPs ? { privateIPs: members.privateIPs } : {}),
      sshKeys: members.sshKeys,
      bastion: members.bastion ? bastionSettings(members.bastion) : null,
    },
    egressIPs: (spec.egressIPs ?? schemaDefault<EgressIP[]>("NatGatewaySpec", "egressIPs")).map((egressIP) => ({
      ...egressIP,
      deleteProtection: egressIP.floatingIPId === undefined ? (egressIP.deleteProtection ?? schemaDefault("EgressIP", "deleteProtection")) : null,
    })),
    ipv6: { enabled: spec.ipv6?.enabled ?? schemaDefault("IPv6", "enabled") },
    routes: spec.routes ?? schemaDefault("NatGatewaySpec", "routes"),
    sources: spec.sources ?? [spec.network.ipRange],
    portsPerSource: spec.portsPerSource ?? null,
    security: {
      blockSMTP25: spec.security?.blockSMTP25 ?? schemaDefault("Security", "blockSMTP25"),
      sshAllowedCIDRs: spec.security?.sshAllowedCIDRs ?? schemaDefault("Security", "sshAllowedCIDRs"),
    },
    metrics: {
      enabled: spec.metrics?.enabled ?? schemaDefault("Metrics", "enabled"),
      port: spec.metrics?.port ?? schemaDefault("Metrics", "port"),
    },
    natLogging: {
      enabled: spec.natLogging?.enabled ?? schemaDefault("NatLogging", "enabled"),
      sampleOneIn: spec.natLogging?.sampleOneIn ?? schemaDefault("NatLogging", "sampleOneIn"),
      maxPerSecond: spec.natLogging?.maxPerSecond ?? schemaDefault("NatLogging", "maxPerSecond"),
    },
  };
}

function bastionSettings(bastion: Bastion): BastionSettings {
  return {
    host: bastion.host,
    user: bastion.user ?? schemaDefault("Bastion", "user"),
    port: bastion.port ?? schemaDefault("Bastion", "port"),
    ...(bastion.hostKey !== undefined ? { hostKey: bastion.hostKey } : {}),
    target: bastion.target ?? schemaDefault("Bastion", "target"),
  };
}

/** A policy's egress IP defaults to its gateway's first. */
export function policyEgressIP(named: string | undefined, gatewayEgressIPs: readonly Pick<EgressIP, "name">[]): string {
  return named ?? gatewayEgressIPs[0]!.name;
}
