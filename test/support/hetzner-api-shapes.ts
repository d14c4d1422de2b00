/**
 * The bodies FakeHetznerApi answers with, in the real Hetzner Cloud API's shapes:
 * every field python3-hcloud's models read is there (test/hosts/hcloud-client.test.ts
 * holds the emulation to it with the official client), so a program tested against
 * the emulation never relies on a field the API does not send, or misses one it does.
 * Fields the takeover does not read carry plausible values for examples/ha.yaml.
 */
export interface Route {
  destination: string;
  gateway: string;
}

/** What GET /networks/{id} shows besides its routes. */
export interface NetworkDescription {
  readonly name?: string;
  readonly ipRange: string;
  readonly subnet: string;
  /** The network's router, its first address: Hetzner lists it as each subnet's gateway. */
  readonly gateway: string;
  readonly networkZone?: string;
  readonly servers?: readonly number[];
}

/** The network of examples/ha.yaml, with the two members the host-program tests use. */
export const HA_NETWORK: NetworkDescription = { ipRange: "10.0.0.0/16", subnet: "10.0.1.0/24", gateway: "10.0.0.1", servers: [111, 222] };

/** Hetzner's timestamps: ISO 8601 in UTC, seconds, with an offset rather than `Z`. */
export function timestamp(milliseconds: number): string {
  return new Date(milliseconds).toISOString().replace(/\.\d+Z$/, "+00:00");
}

// Floating IPs are created in a location, and routed best there (fsn1 in examples/ha.yaml).
const FSN1 = { id: 1, name: "fsn1", description: "Falkenstein DC Park 1", country: "DE", city: "Falkenstein", latitude: 50.47612, longitude: 12.370071, network_zone: "eu-central" };

export function floatingIPJson(id: number, floatingIP: { address: string; server: number | null }, created: number) {
  const ipv6 = floatingIP.address.includes(":");
  // Hetzner's default reverse DNS for an IPv4 address; an IPv6 /64 has none until one is set.
  const reverse = floatingIP.address.split(".").reverse().join(".");
  return {
    id,
    name: `floating-ip-${id}`,
    description: null,
    ip: floatingIP.address,
    type: ipv6 ? "ipv6" : "ipv4",
    server: floatingIP.server,
    dns_ptr: ipv6 ? [] : [{ ip: floatingIP.address, dns_ptr: `static.${reverse}.clients.your-server.de` }],
    home_location: FSN1,
    blocked: false,
    protection: { delete: false },
    labels: {},
    created: timestamp(created),
  };
}

export function networkJson(id: number, routes: readonly Route[], network: NetworkDescription, created: number) {
  const zone = network.networkZone ?? "eu-central";
  return {
    id,
    name: network.name ?? `network-${id}`,
    ip_range: network.ipRange,
    // A cloud subnet has no vswitch_id: only vSwitch subnets carry one.
    subnets: [{ type: "cloud", ip_range: network.subnet, network_zone: zone, gateway: network.gateway }],
    routes: routes.map((route) => ({ destination: route.destination, gateway: route.gateway })),
    servers: [...(network.servers ?? [])],
    load_balancers: [],
    expose_routes_to_vswitch: false,
    protection: { delete: false },
    labels: {},
    created: timestamp(created),
  };
}

export interface ActionResource {
  readonly id: number;
  readonly type: "floating_ip" | "network" | "server";
}

export interface ActionState {
  readonly id: number;
  readonly command: string;
  /** What the action works on, as the API lists them: an assign names the server first, then the floating IP. */
  readonly resources: readonly ActionResource[];
  readonly started: number;
  /** When it succeeded or failed; null while it runs. */
  readonly finished: number | null;
  /** Set when the action ends in error rather than success. */
  readonly error: { readonly code: string; readonly message: string } | null;
}

export function actionJson(action: ActionState) {
  const done = action.finished !== null;
  return {
    id: action.id,
    command: action.command,
    status: !done ? "running" : action.error ? "error" : "success",
    progress: done ? 100 : 0,
    started: timestamp(action.started),
    finished: done ? timestamp(action.finished!) : null,
    resources: action.resources.map((resource) => ({ ...resource })),
    error: done ? action.error : null,
  };
}

// What Hetzner says with each error code; its clients show the message, and act on the code.
const ERROR_MESSAGES: Record<string, string> = {
  unauthorized: "unable to authenticate",
  not_found: "not found",
  json_error: "invalid JSON input in your request",
  invalid_input: "invalid input",
  conflict: "another change is running on this network",
  locked: "another action is running on this resource",
  rate_limit_exceeded: "limit of 3600 requests per hour reached",
  server_error: "server error",
  unavailable: "service unavailable",
};

/** `{"error": {code, message, details}}`: details name the fields an invalid_input found wrong, as Hetzner's do. */
export function errorJson(code: string, fields: readonly string[] = []) {
  if (fields.length > 0) {
    const message = `invalid input in field '${fields[0]}': is missing or not of its type`;
    return { error: { code, message, details: { fields: fields.map((name) => ({ name, messages: ["is missing or not of its type"] })) } } };
  }
  return { error: { code, message: ERROR_MESSAGES[code] ?? code.replaceAll("_", " "), details: {} } };
}
