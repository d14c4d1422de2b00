import { cidr } from "./ip.js";

/**
 * Facts about Hetzner Cloud that the checks rely on (see Hetzner's networks
 * documentation and API reference).
 */

/** The network zone of each location; a subnet lives in one zone. */
export const ZONE_OF_LOCATION = {
  fsn1: "eu-central",
  nbg1: "eu-central",
  hel1: "eu-central",
  ash: "us-east",
  hil: "us-west",
  sin: "ap-southeast",
} as const;

export type Location = keyof typeof ZONE_OF_LOCATION;
export type NetworkZone = (typeof ZONE_OF_LOCATION)[Location];

/** Network ip ranges and route destinations must be RFC 1918 (route destinations may also be 0.0.0.0/0). */
export const PRIVATE_RANGES = [cidr("10.0.0.0/8"), cidr("172.16.0.0/12"), cidr("192.168.0.0/16")];

/** Hetzner's public gateway, on-link from every server's public NIC; no route may cover it. */
export const PUBLIC_GATEWAY = cidr("172.31.1.1/32");

/** Link-local, where the metadata service (169.254.169.254) lives. Forwarded traffic to it is always dropped. */
export const LINK_LOCAL = cidr("169.254.0.0/16");
export const METADATA_ADDRESS = "169.254.169.254";

export const DEFAULT_ROUTE = "0.0.0.0/0";

/** Hetzner's router answers at a network's first usable address: the ip range's first + 1. */
export function routerAddress(ipRange: { readonly first: number }): number {
  return ipRange.first + 1;
}

/** The name of the network natgw creates for a gateway that names none. */
export function defaultNetworkName(gatewayName: string): string {
  return `${gatewayName}-network`;
}

/** SNAT ports natgw hands out: the unprivileged range, 64,512 ports. */
export const FIRST_SNAT_PORT = 1024;
export const LAST_SNAT_PORT = 65535;
export const SNAT_PORTS = LAST_SNAT_PORT - FIRST_SNAT_PORT + 1;

/** Members per mode. */
export const MEMBER_COUNT = { ha: 2, single: 1 } as const;
