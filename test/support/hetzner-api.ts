import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A small stand-in for the Hetzner Cloud API, enough for natgw-ctl's takeover:
 * floating IP assignment and network routes kept in memory, Action objects that
 * run until polled, and the error answers Hetzner gives (`locked` while an action
 * runs on the resource, `conflict` while one runs on the network). Tests can make
 * it answer with an error a given number of times, stop answering after a
 * change, as if the caller had been killed, or be down for a while (`outage`).
 * The network lab serves it from its emulated cloud with actions that take real
 * time, and applies each change to the namespaces' routing when its action succeeds.
 */
export interface Route {
  destination: string;
  gateway: string;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly body: unknown;
  /** When it arrived, in milliseconds since the epoch. */
  readonly time: number;
}

interface Failure {
  readonly method: string;
  readonly pathSuffix: string;
  readonly status: number;
  readonly code: string;
  remaining: number;
}

/** A change an action makes, reported when the action succeeds. */
export type Change =
  | { readonly command: "assign_floating_ip"; readonly floatingIP: number; readonly address: string; readonly server: number }
  | { readonly command: "add_route" | "delete_route"; readonly network: number; readonly destination: string; readonly gateway: string };

interface Action {
  readonly id: number;
  readonly command: string;
  readonly resource: string;
  pollsUntilDone: number;
  /** With actionSeconds: when the action succeeds, in milliseconds since the epoch. */
  doneAt: number | null;
}

export interface FakeHetznerOptions {
  readonly token: string;
  readonly floatingIPs: Record<number, { address: string; server: number | null }>;
  readonly networks: Record<number, Route[]>;
  /** How many GET /actions/{id} answer `running` before `success`. */
  readonly pollsPerAction?: number;
  /** What the metadata service answers for `instance-id`; unset: 404. */
  readonly instanceId?: number;
  /** Actions succeed this long after they were posted, polled or not (instead of pollsPerAction). */
  readonly actionSeconds?: number;
  /** Called with each change when its action succeeds. */
  readonly onChange?: (change: Change) => void;
}

const ERROR_MESSAGES: Record<number, string> = { 401: "unauthorized", 404: "not found", 409: "conflict", 422: "invalid input", 423: "locked", 429: "rate limit exceeded", 500: "server error", 503: "service unavailable" };

export class FakeHetznerApi {
  readonly requests: RecordedRequest[] = [];
  readonly floatingIPs = new Map<number, { address: string; server: number | null }>();
  readonly networks = new Map<number, Route[]>();
  private readonly actions = new Map<number, Action>();
  private readonly failures: Failure[] = [];
  private readonly server: Server;
  private nextActionId = 1000;
  private hold: { command: string; reached: () => void } | null = null;
  endpoint = "";
  /**
   * While set, the Cloud API is down (the metadata service is not): every request
   * is answered 503 `unavailable`, or its connection is cut without an answer
   * ("reset"). Such requests are counted in outageAnswers, not recorded.
   */
  outage: "unavailable" | "reset" | null = null;
  outageAnswers = 0;

  private constructor(private readonly options: FakeHetznerOptions) {
    for (const [id, floatingIP] of Object.entries(options.floatingIPs)) this.floatingIPs.set(Number(id), { ...floatingIP });
    for (const [id, routes] of Object.entries(options.networks)) this.networks.set(Number(id), routes.map((route) => ({ ...route })));
    this.server = createServer((request, response) => this.handle(request, response));
  }

  /** The metadata service's base, served by the same server. */
  get metadataUrl(): string {
    return this.endpoint.replace(/\/v1$/, "/hetzner/v1/metadata");
  }

  /** Not listening: requests reach it through `handle`. */
  static create(options: FakeHetznerOptions): FakeHetznerApi {
    return new FakeHetznerApi(options);
  }

  /** Listens on 127.0.0.1 on a free port. */
  static async start(options: FakeHetznerOptions): Promise<FakeHetznerApi> {
    const api = new FakeHetznerApi(options);
    await new Promise<void>((resolve) => api.server.listen(0, "127.0.0.1", resolve));
    api.endpoint = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}/v1`;
    return api;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The next `times` requests whose path ends with `pathSuffix` get this error instead. */
  failNext(method: string, pathSuffix: string, status: number, code: string, times = 1): void {
    this.failures.push({ method, pathSuffix, status, code, remaining: times });
  }

  /** After applying the next `command` (e.g. "delete_route"), never answer again. */
  holdAfter(command: string): Promise<void> {
    return new Promise((resolve) => (this.hold = { command, reached: resolve }));
  }

  /** Actions that have not succeeded yet. */
  get pendingActions(): number {
    return [...this.actions.values()].filter((action) => !this.done(action)).length;
  }

  count(method: string, pathSuffix = ""): number {
    return this.requests.filter((request) => request.method === method && request.path.endsWith(pathSuffix)).length;
  }

  /** Answers one request; the lab calls it from its own HTTPS server. */
  handle(request: IncomingMessage, response: ServerResponse): void {
    const down = this.outage !== null && !(request.url ?? "").startsWith("/hetzner/") && request.url !== "/probe";
    if (down) this.outageAnswers += 1;
    if (down && this.outage === "reset") {
      request.socket.destroy();
      return;
    }
    if (down) return this.error(response, 503, "unavailable");
    let text = "";
    request.on("data", (chunk: Buffer) => (text += chunk.toString()));
    request.on("end", () => {
      const path = (request.url ?? "").replace(/^\/v1/, "");
      const method = request.method ?? "GET";
      let body: unknown = null;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        return this.error(response, 422, "invalid_input");
      }
      this.requests.push({ method, path, body, time: Date.now() });
      // The metadata service (no token) and an echo of the caller's address, as a probe URL answers.
      if (method === "GET" && path === "/hetzner/v1/metadata/instance-id" && this.options.instanceId !== undefined) {
        response.writeHead(200, { "Content-Type": "text/plain" });
        return response.end(String(this.options.instanceId));
      }
      if (method === "GET" && path === "/probe") {
        response.writeHead(200, { "Content-Type": "text/plain" });
        return response.end(`${request.socket.remoteAddress ?? ""}\n`);
      }
      if (request.headers.authorization !== `Bearer ${this.options.token}`) return this.error(response, 401, "unauthorized");
      const failure = this.failures.find((candidate) => candidate.remaining > 0 && candidate.method === method && path.endsWith(candidate.pathSuffix));
      if (failure) {
        failure.remaining -= 1;
        return this.error(response, failure.status, failure.code);
      }
      this.route(method, path, body as Record<string, unknown> | null, response);
    });
  }

  private route(method: string, path: string, body: Record<string, unknown> | null, response: ServerResponse): void {
    let match: RegExpExecArray | null;
    if (method === "GET" && (match = /^\/actions\/(\d+)$/.exec(path))) {
      const action = this.actions.get(Number(match[1]));
      if (!action) return this.error(response, 404, "not_found");
      if (action.pollsUntilDone > 0) action.pollsUntilDone -= 1;
      return this.send(response, 200, { action: this.actionJson(action) });
    }
    if (method === "GET" && (match = /^\/floating_ips\/(\d+)$/.exec(path))) {
      const id = Number(match[1]);
      const floatingIP = this.floatingIPs.get(id);
      if (!floatingIP) return this.error(response, 404, "not_found");
      return this.send(response, 200, { floating_ip: { id, type: "ipv4", ip: floatingIP.address, server: floatingIP.server } });
    }
    if (method === "GET" && (match = /^\/networks\/(\d+)$/.exec(path))) {
      const id = Number(match[1]);
      const routes = this.networks.get(id);
      if (!routes) return this.error(response, 404, "not_found");
      return this.send(response, 200, { network: { id, routes } });
    }
    if (method === "POST" && (match = /^\/floating_ips\/(\d+)\/actions\/assign$/.exec(path))) {
      const id = Number(match[1]);
      const floatingIP = this.floatingIPs.get(id);
      if (!floatingIP) return this.error(response, 404, "not_found");
      if (typeof body?.server !== "number") return this.error(response, 422, "invalid_input");
      if (this.running(`floating_ip:${id}`)) return this.error(response, 423, "locked");
      floatingIP.server = body.server;
      return this.startAction(response, `floating_ip:${id}`, { command: "assign_floating_ip", floatingIP: id, address: floatingIP.address, server: body.server });
    }
    if (method === "POST" && (match = /^\/networks\/(\d+)\/actions\/(add_route|delete_route)$/.exec(path))) {
      const [, id, command] = match as unknown as [string, string, "add_route" | "delete_route"];
      const routes = this.networks.get(Number(id));
      if (!routes) return this.error(response, 404, "not_found");
      if (typeof body?.destination !== "string" || typeof body.gateway !== "string") return this.error(response, 422, "invalid_input");
      if (this.running(`network:${id}`)) return this.error(response, 409, "conflict");
      const index = routes.findIndex((route) => route.destination === body.destination);
      if (command === "add_route") {
        if (index >= 0) return this.error(response, 422, "invalid_input");
        routes.push({ destination: body.destination, gateway: body.gateway });
      } else {
        if (index < 0 || routes[index]!.gateway !== body.gateway) return this.error(response, 422, "invalid_input");
        routes.splice(index, 1);
      }
      return this.startAction(response, `network:${id}`, { command, network: Number(id), destination: body.destination, gateway: body.gateway });
    }
    this.error(response, 404, "not_found");
  }

  /**
   * The change shows in this API at once. The action reports `running` until
   * polled pollsPerAction times, or for actionSeconds; onChange hears of the
   * change when the action succeeds.
   */
  private startAction(response: ServerResponse, resource: string, change: Change): void {
    const seconds = this.options.actionSeconds;
    const action: Action = {
      id: this.nextActionId++,
      command: change.command,
      resource,
      pollsUntilDone: seconds === undefined ? (this.options.pollsPerAction ?? 1) : 0,
      doneAt: seconds === undefined ? null : Date.now() + seconds * 1000,
    };
    this.actions.set(action.id, action);
    // Hetzner finishes an action whether or not its caller is still there.
    if (action.doneAt === null) this.options.onChange?.(change);
    else setTimeout(() => this.options.onChange?.(change), seconds! * 1000);
    if (this.hold?.command === change.command) {
      action.pollsUntilDone = 0;
      this.hold.reached();
      this.hold = null;
      return;
    }
    this.send(response, 201, { action: this.actionJson(action) });
  }

  private running(resource: string): boolean {
    return [...this.actions.values()].some((action) => action.resource === resource && !this.done(action));
  }

  private done(action: Action): boolean {
    return action.doneAt === null ? action.pollsUntilDone === 0 : Date.now() >= action.doneAt;
  }

  private actionJson(action: Action) {
    const [type, id] = action.resource.split(":");
    const done = this.done(action);
    return {
      id: action.id,
      command: action.command,
      status: done ? "success" : "running",
      progress: done ? 100 : 0,
      started: "2026-01-01T00:00:00+00:00",
      finished: done ? "2026-01-01T00:00:01+00:00" : null,
      resources: [{ id: Number(id), type }],
      error: null,
    };
  }

  private error(response: ServerResponse, status: number, code: string): void {
    this.send(response, status, { error: { code, message: ERROR_MESSAGES[status] ?? code, details: {} } });
  }

  private send(response: ServerResponse, status: number, body: unknown): void {
    response.writeHead(status, { "Content-Type": "application/json" });
    response.end(JSON.stringify(body));
  }
}

/**
 * The API as a standby sees it before a failover, for prod-egress in
 * examples/ha.yaml: the floating IP on the peer's server (222) and the default
 * route through the peer's private IP (10.0.1.3).
 */
export function peerOwnsEverything(token: string, floatingIPId: number): FakeHetznerOptions {
  return {
    token,
    floatingIPs: { [floatingIPId]: { address: "203.0.113.10", server: 222 } },
    networks: { 4711: [{ destination: "0.0.0.0/0", gateway: "10.0.1.3" }] },
  };
}
