import type { Block, Body, ConfigurationBuilder, Expression, Meta, RequiredProvider } from "./configuration.js";

/**
 * The part of the hetznercloud/hcloud provider (v1.68) that natgw uses, typed.
 * Each function names its Terraform type and writes its arguments under the
 * exact names of the provider's schema; the contract test checks every emitted
 * argument and block against that schema. Properties are camelCase; numbers
 * that come from other objects are expressions (`${hcloud_network.x.id}`).
 */

export const HCLOUD_PROVIDER: RequiredProvider = { source: "hetznercloud/hcloud", version: "~> 1.68" };

type Labels = Readonly<Record<string, string>>;
type NumberValue = number | Expression;

/** Drops unset arguments, so the JSON holds only what the stack chose. */
export function defined(attributes: Record<string, unknown>): Body {
  return Object.fromEntries(Object.entries(attributes).filter(([, value]) => value !== undefined));
}

export function hcloudProvider(config: ConfigurationBuilder, token: Expression): void {
  config.provider("hcloud", { token }, HCLOUD_PROVIDER);
}

export function network(config: ConfigurationBuilder, name: string, args: { name: string; ipRange: string; labels: Labels }, meta?: Meta): Block {
  return config.resource("hcloud_network", name, { name: args.name, ip_range: args.ipRange, labels: args.labels }, meta);
}

export function networkSubnet(
  config: ConfigurationBuilder,
  name: string,
  args: { networkId: NumberValue; type: "cloud" | "server" | "vswitch"; networkZone: string; ipRange: string },
): Block {
  return config.resource("hcloud_network_subnet", name, {
    network_id: args.networkId,
    type: args.type,
    network_zone: args.networkZone,
    ip_range: args.ipRange,
  });
}

export function networkRoute(config: ConfigurationBuilder, name: string, args: { networkId: NumberValue; destination: string; gateway: string }, meta?: Meta): Block {
  return config.resource("hcloud_network_route", name, { network_id: args.networkId, destination: args.destination, gateway: args.gateway }, meta);
}

export function placementGroup(config: ConfigurationBuilder, name: string, args: { name: string; type: "spread"; labels: Labels }): Block {
  return config.resource("hcloud_placement_group", name, { name: args.name, type: args.type, labels: args.labels });
}

export interface ServerArgs {
  readonly name: string;
  readonly serverType: string;
  readonly image: string;
  readonly location: string;
  readonly labels: Labels;
  readonly sshKeys: readonly string[];
  readonly userData: Expression;
  readonly placementGroupId?: NumberValue;
  /** Block `network` (nesting set). */
  readonly network: readonly { networkId: NumberValue; ip: string; aliasIps: readonly string[] }[];
  /** Block `public_net` (nesting set). */
  readonly publicNet: readonly { ipv4Enabled: boolean; ipv6Enabled: boolean }[];
}

export function server(config: ConfigurationBuilder, name: string, args: ServerArgs, meta?: Meta): Block {
  return config.resource(
    "hcloud_server",
    name,
    defined({
      name: args.name,
      server_type: args.serverType,
      image: args.image,
      location: args.location,
      labels: args.labels,
      ssh_keys: args.sshKeys,
      user_data: args.userData,
      placement_group_id: args.placementGroupId,
      network: args.network.map((item) => ({ network_id: item.networkId, ip: item.ip, alias_ips: item.aliasIps })),
      public_net: args.publicNet.map((item) => ({ ipv4_enabled: item.ipv4Enabled, ipv6_enabled: item.ipv6Enabled })),
    }),
    meta,
  );
}

export function floatingIp(
  config: ConfigurationBuilder,
  name: string,
  args: { type: "ipv4" | "ipv6"; name: string; homeLocation: string; labels: Labels; deleteProtection?: boolean },
  meta?: Meta,
): Block {
  return config.resource(
    "hcloud_floating_ip",
    name,
    defined({ type: args.type, name: args.name, home_location: args.homeLocation, labels: args.labels, delete_protection: args.deleteProtection }),
    meta,
  );
}

export function floatingIpAssignment(config: ConfigurationBuilder, name: string, args: { floatingIpId: NumberValue; serverId: NumberValue }, meta?: Meta): Block {
  return config.resource("hcloud_floating_ip_assignment", name, { floating_ip_id: args.floatingIpId, server_id: args.serverId }, meta);
}

/** Data source hcloud_network: an existing network, by id or by name. */
export function dataNetwork(config: ConfigurationBuilder, name: string, args: { id?: NumberValue; name?: string | Expression }): Block {
  return config.data("hcloud_network", name, defined({ id: args.id, name: args.name }));
}

/** Data source hcloud_floating_ip: an existing floating IP, by id. */
export function dataFloatingIp(config: ConfigurationBuilder, name: string, args: { id: number }): Block {
  return config.data("hcloud_floating_ip", name, { id: args.id });
}
