import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeHetznerApi, peerOwnsEverything } from "../support/hetzner-api.js";
import { missingPythonModule, missingTools, run, runAsync } from "../support/tools.js";

/**
 * The emulated Cloud API the takeover's tests and the network lab run against,
 * driven by Hetzner's official Python client (python3-hcloud, Debian's package)
 * through every call the takeover makes: if the emulation answered in a shape the
 * real API does not have, the takeover could pass its tests and fail on Hetzner.
 * python3-hcloud 1.18 has no call for the metadata service: ctl.test.ts covers
 * the takeover's one request there.
 */
const CLIENT = fileURLToPath(new URL("hcloud-client.py", import.meta.url));
const TOKEN = "e".repeat(64);
const FLOATING_IP_ID = 123456;
const NETWORK_ID = 4711;
const DEFAULT_ROUTE = "0.0.0.0/0";

type Step = Record<string, unknown> & { call: string };
type Result = Record<string, unknown>;

it.skipIf(missingTools("/usr/bin/pyflakes3"))("the client's script passes pyflakes", () => {
  const result = run("/usr/bin/pyflakes3", [CLIENT]);
  expect(result.stdout + result.stderr).toBe("");
  expect(result.status).toBe(0);
});

describe.skipIf(missingPythonModule("hcloud", "python3-hcloud"))("the emulated Hetzner Cloud API, as python3-hcloud sees it", () => {
  let api: FakeHetznerApi;

  beforeEach(async () => {
    api = await FakeHetznerApi.start(peerOwnsEverything(TOKEN, FLOATING_IP_ID));
  });

  afterEach(async () => {
    await api.stop();
  });

  /** Runs the steps in one client; the token goes in on stdin, as the takeover keeps it out of argv. */
  async function drive(steps: Step[], token = TOKEN): Promise<Result[]> {
    const input = JSON.stringify({ endpoint: api.endpoint, token, pollIntervalSeconds: 0.01, steps });
    const result = await runAsync("/usr/bin/python3", [CLIENT], { env: { PATH: "/usr/bin:/bin" }, input });
    expect(result.status, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as Result[];
  }

  const route = (command: "add_route" | "delete_route", gateway: string, more: object = {}): Step => ({ call: command, network: NETWORK_ID, destination: DEFAULT_ROUTE, gateway, ...more });

  it("GET /floating_ips/{id} fills every field of the client's FloatingIP: address, server, home location", async () => {
    const [floatingIP] = await drive([{ call: "get_floating_ip", id: FLOATING_IP_ID }]);
    expect(floatingIP).toEqual({
      id: FLOATING_IP_ID,
      name: `floating-ip-${FLOATING_IP_ID}`,
      ip: "203.0.113.10",
      type: "ipv4",
      server: 222,
      blocked: false,
      home_location: "fsn1",
      created: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/),
      missing: [],
    });
  });

  it("GET /networks/{id} fills every field of the client's Network, its routes as NetworkRoutes", async () => {
    const [network] = await drive([{ call: "get_network", id: NETWORK_ID }]);
    expect(network).toMatchObject({ id: NETWORK_ID, ip_range: "10.0.0.0/16", routes: [{ destination: DEFAULT_ROUTE, gateway: "10.0.1.3" }], servers: [111, 222], missing: [] });
  });

  it("assign answers 201 with a running Action that wait_until_finished polls to success; the floating IP is then on the server", async () => {
    const [assign, floatingIP] = await drive([{ call: "assign", floating_ip: FLOATING_IP_ID, server: 111 }, { call: "get_floating_ip", id: FLOATING_IP_ID }]);
    const action = { id: 1000, command: "assign_floating_ip", resources: [{ id: 111, type: "server" }, { id: FLOATING_IP_ID, type: "floating_ip" }], error: null, missing: [] };
    expect(assign).toEqual({
      posted: { ...action, status: "running", progress: 0, started: expect.any(String), finished: null },
      finished: { ...action, status: "success", progress: 100, started: expect.any(String), finished: expect.any(String) },
    });
    expect(api.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
      `POST /floating_ips/${FLOATING_IP_ID}/actions/assign`,
      "GET /actions/1000",
      `GET /floating_ips/${FLOATING_IP_ID}`,
    ]);
    expect(api.requests[0]!.body).toEqual({ server: 111 });
    expect(floatingIP).toMatchObject({ server: 111 });
  });

  it("delete_route then add_route re-point the route, each Action polled to success", async () => {
    const [deleted, added, network] = await drive([route("delete_route", "10.0.1.3"), route("add_route", "10.0.1.2"), { call: "get_network", id: NETWORK_ID }]);
    for (const [result, command] of [[deleted, "delete_route"], [added, "add_route"]] as const) {
      expect(result).toMatchObject({ posted: { command, status: "running", resources: [{ id: NETWORK_ID, type: "network" }], missing: [] }, finished: { command, status: "success", missing: [] } });
    }
    expect(api.requests.filter((request) => request.method === "POST").map((request) => request.body)).toEqual([
      { destination: DEFAULT_ROUTE, gateway: "10.0.1.3" },
      { destination: DEFAULT_ROUTE, gateway: "10.0.1.2" },
    ]);
    expect(network).toMatchObject({ routes: [{ destination: DEFAULT_ROUTE, gateway: "10.0.1.2" }] });
  });

  it("an Action that fails is reported by the client as ActionFailedException with `action_failed`, and changed nothing", async () => {
    api.failNextAction("assign_floating_ip");
    api.failNextAction("add_route");
    const [assign, floatingIP, deleted, added, network] = await drive([
      { call: "assign", floating_ip: FLOATING_IP_ID, server: 111 },
      { call: "get_floating_ip", id: FLOATING_IP_ID },
      route("delete_route", "10.0.1.3"),
      route("add_route", "10.0.1.2"),
      { call: "get_network", id: NETWORK_ID },
    ]);
    const failed = { code: "action_failed", message: "Action failed" };
    expect(assign).toEqual({ error: { exception: "ActionFailedException", id: 1000, command: "assign_floating_ip", status: "error", error: failed } });
    expect(floatingIP).toMatchObject({ server: 222 });
    expect(deleted).toMatchObject({ finished: { status: "success" } });
    expect(added).toEqual({ error: { exception: "ActionFailedException", id: 1002, command: "add_route", status: "error", error: failed } });
    expect(network).toMatchObject({ routes: [] });
  });

  it("a second assign while one runs is `locked`; a route change while another runs is `conflict`", async () => {
    const results = await drive([
      { call: "assign", floating_ip: FLOATING_IP_ID, server: 111, wait: false },
      { call: "assign", floating_ip: FLOATING_IP_ID, server: 111 },
      route("delete_route", "10.0.1.3", { wait: false }),
      route("add_route", "10.0.1.2"),
      { call: "wait", step: 0 },
      { call: "wait", step: 2 },
      route("add_route", "10.0.1.2"),
    ]);
    expect(results[1]).toEqual({ error: { exception: "APIException", code: "locked", message: expect.any(String), details: {} } });
    expect(results[3]).toEqual({ error: { exception: "APIException", code: "conflict", message: expect.any(String), details: {} } });
    expect(results.slice(4)).toMatchObject([{ finished: { status: "success" } }, { finished: { status: "success" } }, { finished: { status: "success" } }]);
  });

  it("a wrong token is `unauthorized`, an unknown id `not_found`, a route that is not there `invalid_input`", async () => {
    const [unauthorized] = await drive([{ call: "get_network", id: NETWORK_ID }], "f".repeat(64));
    const [notFound, notFoundAssign, invalid] = await drive([
      { call: "get_floating_ip", id: 1 },
      { call: "assign", floating_ip: 1, server: 111 },
      route("delete_route", "10.0.1.9"),
    ]);
    const code = (result: Result | undefined) => (result?.error as { code?: string } | undefined)?.code;
    expect([code(unauthorized), code(notFound), code(notFoundAssign), code(invalid)]).toEqual(["unauthorized", "not_found", "not_found", "invalid_input"]);
    expect(api.networks.get(NETWORK_ID)).toEqual([{ destination: DEFAULT_ROUTE, gateway: "10.0.1.3" }]);
  });

  it("429 `rate_limit_exceeded` is the one code the client retries itself: four times, then it raises it", async () => {
    api.failNext("GET", `/networks/${NETWORK_ID}`, 429, "rate_limit_exceeded", 5);
    api.failNext("POST", "/actions/assign", 429, "rate_limit_exceeded", 1);
    const [network, assign] = await drive([{ call: "get_network", id: NETWORK_ID }, { call: "assign", floating_ip: FLOATING_IP_ID, server: 111 }]);
    expect(network).toMatchObject({ error: { exception: "APIException", code: "rate_limit_exceeded" } });
    expect(api.count("GET", `/networks/${NETWORK_ID}`)).toBe(5);
    expect(assign).toMatchObject({ finished: { status: "success" } });
    expect(api.count("POST", "/actions/assign")).toBe(2);
  });

  it("5xx answers and cut connections reach the caller at once: the client retries none of them", async () => {
    api.failNext("POST", "/actions/delete_route", 500, "server_error");
    api.failNext("GET", "/actions/1000", 503, "unavailable");
    const [deleted, assign] = await drive([route("delete_route", "10.0.1.3"), { call: "assign", floating_ip: FLOATING_IP_ID, server: 111 }]);
    expect(deleted).toMatchObject({ error: { exception: "APIException", code: "server_error" } });
    expect(assign).toMatchObject({ error: { exception: "APIException", code: "unavailable" } });
    expect(api.requests).toHaveLength(3);
    api.outage = "reset";
    const [cut] = await drive([{ call: "get_floating_ip", id: FLOATING_IP_ID }]);
    expect(cut).toEqual({ error: { exception: "ConnectionError" } });
    expect(api.outageAnswers).toBe(1);
  });
});
