/*
 * One file of over 300 lines: FakeHetznerApi is one object whose resources,
 * actions and injected faults share its state; the shapes of its answers have a
 * file of their own (hetzner-api-shapes.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { actionJson, errorJson, floatingIPJson, HA_NETWORK, networkJson, type ActionResource, type ActionState, type NetworkDescription, type Route } from "./hetzner-api-shapes.js";

export type { NetworkDescription, Route } from "./hetzner-api-shapes.js";

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

interface Action extends Omit<ActionState, "finished"> {
  pollsUntilDone: number;
  /** When it ends, in milliseconds since the epoch: set when posted with actionSeconds, else by the poll that ends it. */
  endsAt: number | null;
}

export interface FakeHetznerOptions {
  readonly token: string;
  readonly floatingIPs: Record<number, { address: string; server: number | null }>;
  readonly networks: Record<number, Route[]>;
  /** What every network shows besides its routes; unset: examples/ha.yaml's network. */
  readonly network?: NetworkDescription;
  /** How many GET /actions/{id} answer `running` before `success`. */
  readonly pollsPerAction?: number;
  /** What the metadata service answers for `instance-id`; unset: 404. */
  readonly instanceId?: number;
  /** Actions succeed this long after they were posted, polled or not (instead of pollsPerAction). */
  readonly actionSeconds?: number;
  /** Called with each change when its action succeeds. */
  readonly onChange?: (change: Change) => void;
}

/**
 * A small stand-in for the Hetzner Cloud API, enough for natgw-ctl's takeover:
 * floating IP assignment and network routes kept in memory, Action objects that
 * run until polled, and the error answers Hetzner gives (`locked` while an action
 * runs on the resource, `conflict` while one runs on the network). Tests can make
 * it answer with an error a given number of times, end actions in error, stop
 * answering after a change, as if the caller had been killed, or be down for a
 * while (`outage`). The network lab serves it from its emulated cloud with actions
 * that take real time, and applies each change to the namespaces' routing when its
 * action succeeds. Its answers are shaped in hetzner-api-shapes.ts.
 */
export class FakeHetznerApi {
  readonly requests: RecordedRequest[] = [];
  readonly floatingIPs = new Map<number, { address: string; server: number | null }>();
  readonly networks = new Map<number, Route[]>();
  private readonly actions = new Map<number, Action>();
  private readonly failures: Failure[] = [];
  private readonly failingActions: { command: string; remaining: number }[] = [];
  /** When the floating IPs and networks were created, for their `created`. */
  private readonly created = Date.now();
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

  /** Error answers given by failNext that no request has met yet. */
  get pendingFailures(): number {
    return this.failures.reduce((sum, failure) => sum + failure.remaining, 0);
  }

  /**
   * The next `times` actions of `command` (e.g. "assign_floating_ip") change
   * nothing and end in error, as Hetzner reports an action that failed after it
   * was accepted: the POST answers 201, polling shows `error` with `action_failed`.
   */
  failNextAction(command: string, times = 1): void {
    this.failingActions.push({ command, remaining: times });
  }

  /** After applying the next `command` (e.g. "delete_route"), never answer again. */
  holdAfter(command: string): Promise<void> {
    return new Promise((resolve) => (this.hold = { command, reached: resolve }));
  }

  /** Actions still running. */
  get pendingActions(): number {
    return [...this.actions.values()].filter((action) => this.finished(action) === null).length;
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
        return this.error(response, 400, "json_error");
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
      if (action.pollsUntilDone > 0 && --action.pollsUntilDone === 0) action.endsAt = Date.now();
      return this.send(response, 200, { action: this.actionJson(action) });
    }
    if (method === "GET" && (match = /^\/floating_ips\/(\d+)$/.exec(path))) {
      const id = Number(match[1]);
      const floatingIP = this.floatingIPs.get(id);
      if (!floatingIP) return this.error(response, 404, "not_found");
      return this.send(response, 200, { floating_ip: floatingIPJson(id, floatingIP, this.created) });
    }
    if (method === "GET" && (match = /^\/networks\/(\d+)$/.exec(path))) {
      const id = Number(match[1]);
      const routes = this.networks.get(id);
      if (!routes) return this.error(response, 404, "not_found");
      return this.send(response, 200, { network: networkJson(id, routes, this.options.network ?? HA_NETWORK, this.created) });
    }
    if (method === "POST" && (match = /^\/floating_ips\/(\d+)\/actions\/assign$/.exec(path))) {
      const id = Number(match[1]);
      const floatingIP = this.floatingIPs.get(id);
      if (!floatingIP) return this.error(response, 404, "not_found");
      if (typeof body?.server !== "number") return this.error(response, 422, "invalid_input", ["server"]);
      // An assign works on the floating IP and on the server: an action running on either locks it.
      const resources: ActionResource[] = [{ id: body.server, type: "server" }, { id, type: "floating_ip" }];
      if (resources.some((resource) => this.running(resource))) return this.error(response, 423, "locked");
      const change: Change = { command: "assign_floating_ip", floatingIP: id, address: floatingIP.address, server: body.server };
      const fails = this.takeActionFailure(change.command);
      if (!fails) floatingIP.server = body.server;
      return this.startAction(response, resources, change, fails);
    }
    if (method === "POST" && (match = /^\/networks\/(\d+)\/actions\/(add_route|delete_route)$/.exec(path))) {
      const [, id, command] = match as unknown as [string, string, "add_route" | "delete_route"];
      const routes = this.networks.get(Number(id));
      if (!routes) return this.error(response, 404, "not_found");
      const invalid = ["destination", "gateway"].filter((field) => typeof body?.[field] !== "string");
      if (!body || invalid.length > 0) return this.error(response, 422, "invalid_input", invalid);
      const resources: ActionResource[] = [{ id: Number(id), type: "network" }];
      if (this.running(resources[0]!)) return this.error(response, 409, "conflict");
      const change: Change = { command, network: Number(id), destination: body.destination as string, gateway: body.gateway as string };
      const index = routes.findIndex((route) => route.destination === change.destination);
      if (command === "add_route" ? index >= 0 : index < 0 || routes[index]!.gateway !== change.gateway) return this.error(response, 422, "invalid_input");
      const fails = this.takeActionFailure(command);
      if (!fails && command === "add_route") routes.push({ destination: change.destination, gateway: change.gateway });
      else if (!fails) routes.splice(index, 1);
      return this.startAction(response, resources, change, fails);
    }
    this.error(response, 404, "not_found");
  }

  /**
   * The change shows in this API at once (unless the action is to fail). The
   * action reports `running` until polled pollsPerAction times, or for
   * actionSeconds; onChange hears of the change when the action succeeds.
   */
  private startAction(response: ServerResponse, resources: readonly ActionResource[], change: Change, fails: boolean): void {
    const seconds = this.options.actionSeconds;
    const now = Date.now();
    const pollsUntilDone = seconds === undefined ? (this.options.pollsPerAction ?? 1) : 0;
    const endsAt = seconds !== undefined ? now + seconds * 1000 : pollsUntilDone === 0 ? now : null;
    const error = fails ? { code: "action_failed", message: "Action failed" } : null;
    const action: Action = { id: this.nextActionId++, command: change.command, resources, started: now, pollsUntilDone, endsAt, error };
    this.actions.set(action.id, action);
    // Hetzner finishes an action whether or not its caller is still there; a failed one changed nothing.
    if (!fails && seconds === undefined) this.options.onChange?.(change);
    else if (!fails) setTimeout(() => this.options.onChange?.(change), seconds! * 1000);
    if (this.hold?.command === change.command) {
      action.pollsUntilDone = 0;
      action.endsAt = now;
      this.hold.reached();
      this.hold = null;
      return;
    }
    this.send(response, 201, { action: this.actionJson(action) });
  }

  /** Whether the next action of `command` is one failNextAction asked to fail. */
  private takeActionFailure(command: string): boolean {
    const failure = this.failingActions.find((candidate) => candidate.remaining > 0 && candidate.command === command);
    if (failure) failure.remaining -= 1;
    return failure !== undefined;
  }

  private running(resource: ActionResource): boolean {
    const busy = (action: Action) => action.resources.some((other) => other.type === resource.type && other.id === resource.id);
    return [...this.actions.values()].some((action) => busy(action) && this.finished(action) === null);
  }

  /** When the action ended, or null while it runs. */
  private finished(action: Action): number | null {
    return action.endsAt !== null && Date.now() >= action.endsAt ? action.endsAt : null;
  }

  private actionJson(action: Action) {
    return actionJson({ ...action, finished: this.finished(action) });
  }

  private error(response: ServerResponse, status: number, code: string, fields: readonly string[] = []): void {
    this.send(response, status, errorJson(code, fields));
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
