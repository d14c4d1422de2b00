import type { GatewayModel, MemberModel, Model } from "../../resolve/model.js";
import type { FileMode, Role } from "../artifact.js";
import { label } from "./safe.js";

/** What a host file's values are computed from: one member of one gateway. */
export interface MemberContext {
  readonly model: Model;
  readonly gateway: GatewayModel;
  readonly member: MemberModel;
  /** The other member in HA; null in Single mode. */
  readonly peer: MemberModel | null;
}

interface HostFileBase {
  readonly hostPath: string;
  readonly role: Role;
  readonly fileMode: FileMode;
  /** Whether the member has this file at all (keepalived only in HA). */
  readonly when?: (context: MemberContext) => boolean;
}

/**
 * A configuration file on a member's host. Its template is
 * `templates/<hostPath>.njk`, named after the file it makes; `values` computes
 * everything the template shows.
 */
export interface TemplatedHostFile extends HostFileBase {
  readonly values: (context: MemberContext) => Record<string, unknown>;
}

/**
 * A program on a member's host: `programs/<hostPath>`, shipped as it is, so it is
 * byte-identical on every member of every gateway. It reads what varies from
 * config.json or from its command line (which a unit, a configuration file,
 * gives it), and it is tested as a program.
 */
export interface ProgramHostFile extends HostFileBase {
  readonly program: true;
}

export type HostFile = TemplatedHostFile | ProgramHostFile;

/** Paths on the host that several files agree on. */
export const HOST_PATHS = {
  config: "/etc/natgw/config.json",
  /** Written by Terraform after apply: server ids, network id, floating IP ids and addresses. */
  cloud: "/etc/natgw/cloud.json",
  /** Written by Terraform, root only: the Hetzner Cloud API token. */
  token: "/etc/natgw/token",
  ruleset: "/etc/natgw/ruleset.nft",
  /** The baseline table, loaded before the network at every boot. */
  baseline: "/etc/natgw/baseline.nft",
  sysctl: "/etc/sysctl.d/90-natgw.conf",
  runtimeDir: "/run/natgw",
  stateDir: "/var/lib/natgw",
  ctl: "/usr/local/sbin/natgw-ctl",
  /** The takeover program: the only one that calls the Hetzner Cloud API. */
  takeover: "/usr/local/lib/natgw/takeover",
  /** Prints the private and public interfaces' names: the one place that finds them. */
  interfaces: "/usr/local/lib/natgw/interfaces",
  textfileDir: "/var/lib/prometheus/node-exporter",
} as const;

/** The names every file's header comment shows: ids only, checked, never free text. */
export function fileHeader({ gateway, member }: MemberContext): { gateway: string; member: string } {
  return { gateway: label(gateway.name), member: label(member.name) };
}

export function isHA(context: MemberContext): boolean {
  return context.gateway.mode === "ha";
}
