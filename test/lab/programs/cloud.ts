/**
 * The lab's Hetzner, run inside the cloud namespace: the Cloud API the takeover
 * calls (HTTPS, as api.hetzner.cloud), the metadata service at 169.254.169.254
 * answering each server with its own data, and the routing that both stand for.
 * Every action that succeeds is applied to this namespace's routes: a floating IP
 * is routed to the public address of the server it is assigned to, and the
 * network's routes live in the routing table the private interfaces use.
 *
 * The test steers it over a Unix socket (a file, so it crosses namespaces):
 * GET /state, POST /fail (the next answers to a path are an error), POST /hold
 * (after the next change of a command, never answer), POST /outage (the Cloud API
 * answers 503 or cuts connections until told otherwise).
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { FakeHetznerApi, type Change } from "../../support/hetzner-api.js";
import type { CloudConfig, CloudState } from "./cloud-config.js";

const config = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as CloudConfig;
const changes: (Change & { time: number })[] = [];
let held = false;

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "inherit"] });
}

const routeDestination = (cidr: string) => (cidr === "0.0.0.0/0" ? "default" : cidr);
const serverById = (id: number) => config.servers.find((server) => server.id === id);

/**
 * Routes what an action changed. A route the kernel already dropped (its link went
 * down) is gone as the action wanted: the change is recorded either way, and a
 * failure is reported rather than ending the cloud.
 */
function apply(change: Change): void {
  try {
    if (change.command === "assign_floating_ip") {
      const server = serverById(change.server);
      if (server) ip("route", "replace", `${change.address}/32`, "via", server.publicIp);
      else ip("route", "del", `${change.address}/32`);
    } else {
      const table = String(config.routeTable);
      if (change.command === "add_route") ip("route", "replace", routeDestination(change.destination), "via", change.gateway, "table", table);
      else if (routed(change.destination, change.gateway)) ip("route", "del", routeDestination(change.destination), "via", change.gateway, "table", table);
    }
  } catch (error) {
    process.stderr.write(`cloud: applying ${change.command}: ${(error as Error).message}\n`);
  }
  changes.push({ time: Date.now(), ...change });
}

function routed(destination: string, gateway: string): boolean {
  const listing = execFileSync("ip", ["-j", "route", "show", "table", String(config.routeTable), "exact", destination], { encoding: "utf8" });
  return (JSON.parse(listing) as { gateway?: string }[]).some((route) => route.gateway === gateway);
}

const api = FakeHetznerApi.create({
  token: config.token,
  floatingIPs: config.floatingIPs,
  networks: config.networks,
  network: { ...config.network, servers: config.servers.map((server) => server.id) },
  actionSeconds: config.actionSeconds,
  onChange: apply,
});

// What Terraform created before any member ran: the same state the API starts from.
for (const [id, floatingIP] of Object.entries(config.floatingIPs)) {
  if (floatingIP.server !== null) apply({ command: "assign_floating_ip", floatingIP: Number(id), address: floatingIP.address, server: floatingIP.server });
}
for (const [network, routes] of Object.entries(config.networks)) {
  for (const route of routes) apply({ command: "add_route", network: Number(network), ...route });
}
changes.length = 0;

const tls = { cert: readFileSync(config.certificate), key: readFileSync(config.key) };
const apiServer = createHttpsServer(tls, (request, response) => api.handle(request, response));

function send(response: ServerResponse, status: number, body: string, type = "text/plain"): void {
  response.writeHead(status, { "Content-Type": type });
  response.end(body);
}

/** Hetzner's metadata service: each server sees its own id, name and networks. */
const metadata = createHttpServer((request, response) => {
  const caller = (request.socket.remoteAddress ?? "").replace(/^::ffff:/, "");
  const server = config.servers.find((candidate) => candidate.publicIp === caller);
  if (!server) return send(response, 404, "not found\n");
  const network = config.network;
  const privateNetworks = `- ip: ${server.privateIp}\n  alias_ips: []\n  interface_num: 1\n  mac_address: ${server.privateMac}\n  network_id: ${network.id}\n  network_name: ${network.name}\n  network: ${network.ipRange}\n  subnet: ${network.subnet}\n  gateway: ${network.gateway}\n`;
  const base = "/hetzner/v1/metadata";
  const answers: Record<string, string> = {
    [`${base}/instance-id`]: String(server.id),
    [`${base}/hostname`]: server.name,
    [`${base}/public-ipv4`]: server.publicIp,
    [`${base}/private-networks`]: privateNetworks,
    [base]: `hostname: ${server.name}\ninstance-id: ${server.id}\npublic-ipv4: ${server.publicIp}\nregion: eu-central\navailability-zone: fsn1-dc14\n`,
  };
  const answer = answers[(request.url ?? "").replace(/\/$/, "")];
  if (answer === undefined) return send(response, 404, "not found\n");
  send(response, 200, answer);
});

async function body(request: IncomingMessage): Promise<Record<string, unknown>> {
  let text = "";
  for await (const chunk of request) text += String(chunk);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

const control = createHttpServer((request, response) => {
  void (async () => {
    if (request.method === "GET" && request.url === "/state") {
      const state: CloudState = {
        floatingIPs: Object.fromEntries(api.floatingIPs),
        networks: Object.fromEntries(api.networks),
        requests: api.requests,
        changes,
        held,
        pendingActions: api.pendingActions,
        pendingFaults: api.pendingFailures,
      };
      return send(response, 200, JSON.stringify(state), "application/json");
    }
    const options = await body(request);
    if (request.method === "POST" && request.url === "/fail") {
      api.failNext(String(options.method), String(options.pathSuffix), Number(options.status), String(options.code), Number(options.times ?? 1));
      return send(response, 204, "");
    }
    if (request.method === "POST" && request.url === "/outage") {
      api.outage = options.mode === "unavailable" || options.mode === "reset" ? options.mode : null;
      return send(response, 204, "");
    }
    if (request.method === "POST" && request.url === "/hold") {
      held = false;
      void api.holdAfter(String(options.command)).then(() => (held = true));
      return send(response, 204, "");
    }
    send(response, 404, "not found\n");
  })().catch((error: unknown) => send(response, 500, String(error)));
});

await Promise.all([
  new Promise<void>((resolve) => apiServer.listen(443, config.apiAddress, resolve)),
  new Promise<void>((resolve) => metadata.listen(80, "169.254.169.254", resolve)),
  new Promise<void>((resolve) => control.listen(config.controlSocket, resolve)),
]);
process.stdout.write("ready\n");
