import { isAddress, parseCidr } from "../../resolve/ip.js";
import { schema, schemaAt } from "../../spec/schema.js";

/**
 * Every value that reaches a template passes through one of these. The model is
 * already validated, so a failure here is a bug in natgw; the point is that no
 * template ever sees a value that could end a string, start a directive or add a
 * line (`keepalived -t` and `nft -c` accept injected directives, so their syntax
 * checks are no defence).
 */
function unsafe(kind: string, value: unknown): never {
  throw new Error(`natgw bug: unsafe ${kind} reached a template: ${JSON.stringify(value)}`);
}

/** An IPv4 address, parsed and written back in canonical form. */
export function address(value: string): string {
  if (!isAddress(value)) unsafe("IPv4 address", value);
  return value.split(".").map(Number).join(".");
}

/** An IPv4 network, parsed and written back in canonical form. */
export function cidr(value: string): string {
  const parsed = parseCidr(value);
  if (!parsed.ok) unsafe("IPv4 CIDR", value);
  return parsed.cidr.text;
}

/** The schema's DNS label: its pattern, and the 63 characters a DNS label has at most. */
const DNS_LABEL = schema.$defs.DnsLabel!;
const DNS_LABEL_PATTERN = new RegExp(DNS_LABEL.pattern!);
const NETWORK_NAME = schemaAt("Network", "name");
const NETWORK_NAME_PATTERN = new RegExp(NETWORK_NAME.pattern!);

/** Names of gateways, members, egress IPs and policies: DNS labels. */
export function label(value: string): string {
  if (!DNS_LABEL_PATTERN.test(value) || value.length > DNS_LABEL.maxLength!) unsafe("name", value);
  return value;
}

/** Hetzner network names as the schema allows them: they may start with a digit. */
export function networkName(value: string): string {
  if (!NETWORK_NAME_PATTERN.test(value) || value.length > NETWORK_NAME.maxLength!) unsafe("network name", value);
  return value;
}

/** An identifier usable inside nft and keepalived names: a DNS label with `-` as `_`. */
export function identifier(value: string): string {
  return label(value).replace(/-/g, "_");
}

/** Interface names as Linux allows them (IFNAMSIZ 16 with the NUL). */
export const INTERFACE_NAME = /^[A-Za-z0-9_.-]{1,15}$/;

export function interfaceName(value: string): string {
  if (!INTERFACE_NAME.test(value)) unsafe("interface name", value);
  return value;
}

export function integer(value: number, minimum: number, maximum: number): number {
  if (!Number.isInteger(value) || value < minimum || value > maximum) unsafe(`integer in ${minimum}-${maximum}`, value);
  return value;
}

/** Hetzner server types and images: lowercase letters, digits and `-`. */
export function token(value: string): string {
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(value)) unsafe("token", value);
  return value;
}

/** Patterns the schema already states, read from it so the two never drift apart. */
const labels = schema.$defs.Labels as { propertyNames: { pattern: string }; additionalProperties: { pattern: string } };
const LABEL_KEY = new RegExp(labels.propertyNames.pattern);
const LABEL_VALUE = new RegExp(labels.additionalProperties.pattern);
const SSH_KEY_NAME = new RegExp(schemaAt("Members", "sshKeys").items!.pattern!);
const HETZNER_ID = schema.$defs.HetznerID!;
const METRICS_PORT = schemaAt("Metrics", "port");

/** The metrics endpoint's TCP port, within the schema's range. */
export function metricsPort(value: number): number {
  return integer(value, METRICS_PORT.minimum!, METRICS_PORT.maximum!);
}

/** A Hetzner Cloud ID within the schema's range (2^53-1 at most, so it reaches Terraform exactly). */
export function hetznerId(value: number): number {
  return integer(value, HETZNER_ID.minimum!, HETZNER_ID.maximum!);
}

/** Hetzner Cloud SSH key names, as the schema allows them. */
export function sshKeyName(value: string): string {
  if (!SSH_KEY_NAME.test(value)) unsafe("SSH key name", value);
  return value;
}

/** A Hetzner label, key and value, by Hetzner's label rules (as the schema checks them). */
export function hetznerLabel(key: string, value: string): [string, string] {
  if (!LABEL_KEY.test(key)) unsafe("label key", key);
  if (!LABEL_VALUE.test(value)) unsafe("label value", value);
  return [key, value];
}
