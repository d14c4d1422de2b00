import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HOST_PATHS } from "../../src/emit/hosts/context.js";
import { PROGRAMS_DIR } from "../../src/emit/hosts/render.js";
import { buildExample, hostFiles } from "../support/artifacts.js";
import { FakeHetznerApi, peerOwnsEverything } from "../support/hetzner-api.js";
import { waitFor } from "../support/wait.js";
import { missingTools, runAsync, type RunResult } from "../support/tools.js";

const PROGRAM = `${PROGRAMS_DIR}${HOST_PATHS.takeover.slice(1)}`;
const TOKEN = "c".repeat(64);
const FLOATING_IP_ID = 123456;
const PEER_GATEWAY = "10.0.1.3";
const OWN_GATEWAY = "10.0.1.2";

describe("the takeover program as shipped", () => {
  const files = hostFiles(HOST_PATHS.takeover);

  it("is the same file on every member, executable, run by Debian's python3", () => {
    expect(files).toHaveLength(7);
    for (const file of files) expect(file).toMatchObject({ role: "script", fileMode: "0755", content: readFileSync(PROGRAM, "utf8") });
    expect(files[0]!.content.split("\n")[0]).toBe("#!/usr/bin/python3");
  });

  it("reads config.json where natgw writes it, and natgw-ctl and itself where config.json says", () => {
    expect(files[0]!.content).toContain(`os.environ.get("NATGW_CONFIG", "${HOST_PATHS.config}")`);
    const config = JSON.parse(buildExample("ha").find((artifact) => artifact.path === `hosts/prod-egress-1${HOST_PATHS.config}`)!.content) as { paths: object };
    expect(config.paths).toMatchObject({ ctl: HOST_PATHS.ctl, takeover: HOST_PATHS.takeover });
  });
});

/** A member's files in a scratch directory: config.json, cloud.json, the token, and `natgw-ctl role` answering from a file. */
class Member {
  readonly directory = mkdtempSync(join(tmpdir(), "natgw-takeover-"));
  readonly env: NodeJS.ProcessEnv;

  constructor(endpoint: string) {
    const config = buildExample("ha").find((artifact) => artifact.path === `hosts/prod-egress-1${HOST_PATHS.config}`)!;
    writeFileSync(join(this.directory, "config.json"), config.content);
    writeFileSync(join(this.directory, "cloud.json"), JSON.stringify({ networkId: 4711, servers: { "prod-egress-1": 111, "prod-egress-2": 222 }, floatingIPs: { primary: { id: FLOATING_IP_ID, address: "203.0.113.10" } } }));
    writeFileSync(join(this.directory, "token"), `${TOKEN}\n`, { mode: 0o600 });
    writeFileSync(join(this.directory, "ctl"), `#!/bin/sh\n[ "$1" = role ] && exec cat "${join(this.directory, "role")}"\nexit 2\n`, { mode: 0o755 });
    this.role = "MASTER";
    this.env = {
      PATH: "/usr/bin:/bin",
      NATGW_CONFIG: join(this.directory, "config.json"),
      NATGW_CLOUD: join(this.directory, "cloud.json"),
      NATGW_TOKEN_FILE: join(this.directory, "token"),
      NATGW_STATE_DIR: join(this.directory, "state"),
      NATGW_API_ENDPOINT: endpoint,
      NATGW_METADATA_URL: endpoint.replace(/\/v1$/, "/hetzner/v1/metadata"),
      NATGW_CTL: join(this.directory, "ctl"),
      NATGW_POLL_INITIAL_SECONDS: "0.01",
      NATGW_POLL_INTERVAL_SECONDS: "0.01",
      NATGW_BACKOFF_INITIAL_SECONDS: "0.01",
      NATGW_BACKOFF_MAX_SECONDS: "0.05",
    };
  }

  set role(role: string) {
    writeFileSync(join(this.directory, "role"), `${role}\n`);
  }

  /** Runs the program as keepalived's natgw-ctl would, without blocking: the fake API answers from this process. */
  takeover(args: string[], onStart?: (pid: number) => void): Promise<RunResult> {
    return runAsync(PROGRAM, args, { env: this.env }, onStart);
  }

  state(name: string): string {
    const path = join(this.directory, "state", name);
    return existsSync(path) ? readFileSync(path, "utf8") : "";
  }

  log(): Array<Record<string, unknown>> {
    return this.state("takeovers.log").trim().split("\n").filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  remove(): void {
    rmSync(this.directory, { recursive: true, force: true });
  }
}


describe.skipIf(missingTools("/usr/bin/python3"))("the takeover program against a fake Hetzner Cloud API", () => {
  let api: FakeHetznerApi;
  let member: Member;

  beforeEach(async () => {
    api = await FakeHetznerApi.start(peerOwnsEverything(TOKEN, FLOATING_IP_ID));
    member = new Member(api.endpoint);
  });

  afterEach(async () => {
    await api.stop();
    member.remove();
  });

  const endState = () => {
    expect(api.floatingIPs.get(FLOATING_IP_ID)!.server).toBe(111);
    expect(api.networks.get(4711)).toEqual([{ destination: "0.0.0.0/0", gateway: OWN_GATEWAY }]);
  };

  it("run converges, verifies, counts its rounds and shows `takeover` in its command line", async () => {
    let commandLine = "";
    const result = await member.takeover(["run", "--json"], (pid) => (commandLine = readFileSync(`/proc/${pid}/cmdline`, "utf8")));
    expect(result.status, result.stderr).toBe(0);
    endState();
    expect(JSON.parse(result.stdout)).toMatchObject({ result: "ok", attempts: 2, changes: 3, observed: { routes: [{ destination: "0.0.0.0/0", gateway: OWN_GATEWAY }] } });
    expect(commandLine.split("\0")).toContain("run");
    expect(commandLine).toContain("takeover");
    expect(result.stderr).toMatch(/^natgw-takeover: round 1: 3 change\(s\) made; verifying them$/m);
    expect(member.state("takeover-rounds")).toBe("2\n");
    expect((await member.takeover(["once"])).status).toBe(0);
    expect(member.state("takeover-rounds")).toBe("3\n");
    // once found the end state in place: that is no takeover.
    expect(member.log()).toHaveLength(1);
  });

  it("run stops, and says so, once this member is no longer the active one", async () => {
    api.outage = "unavailable";
    const running = member.takeover(["run"]);
    await waitFor("20 requests turned away by the outage", 30_000, () => api.outageAnswers >= 20);
    member.role = "BACKUP";
    const result = await running;
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/prod-egress-1 is BACKUP now, and the active member owns the end state/);
    expect(member.log()).toMatchObject([{ result: "stopped" }]);
    expect(api.count("POST")).toBe(0);
  });

  it("run goes on through connections cut without an answer, and converges once they answer", async () => {
    api.outage = "reset";
    const running = member.takeover(["run"]);
    await waitFor("20 requests turned away by the outage", 30_000, () => api.outageAnswers >= 20);
    api.outage = null;
    expect((await running).status).toBe(0);
    endState();
  });

  it("a POST that got no answer is not repeated: the next round reads the state again", async () => {
    member.env.NATGW_REQUEST_TIMEOUT_SECONDS = "0.5";
    void api.holdAfter("delete_route");
    const result = await member.takeover(["run", "--json"]);
    expect(result.status, result.stderr).toBe(0);
    endState();
    expect(result.stderr).toMatch(/POST \/networks\/4711\/actions\/delete_route: no answer/);
    // The deletion happened though its answer never came: the next round only adds.
    expect(api.count("POST", "/delete_route")).toBe(1);
    expect(api.count("POST", "/add_route")).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ result: "ok", attempts: 3 });
  });

  it("an action that ends in error is not counted as a change: the next round makes it again", async () => {
    api.failNextAction("assign_floating_ip");
    const result = await member.takeover(["run", "--json"]);
    expect(result.status, result.stderr).toBe(0);
    endState();
    expect(result.stderr).toMatch(new RegExp(`action \\d+ \\(/floating_ips/${FLOATING_IP_ID}/actions/assign\\) ended with error: Action failed`));
    expect(api.count("POST", "/actions/assign")).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({ result: "ok", attempts: 3, changes: 3 });
  });

  it("waits a second first only for the rate limit: locked, conflict and server errors are asked again sooner", async () => {
    member.env.NATGW_BACKOFF_BUSY_SECONDS = "0.1";
    member.env.NATGW_BACKOFF_INITIAL_SECONDS = "0.4";
    member.env.NATGW_BACKOFF_MAX_SECONDS = "0.8";
    for (const [status, code] of [[423, "locked"], [429, "rate_limit_exceeded"], [423, "locked"]] as const) api.failNext("POST", "/actions/assign", status, code);
    api.failNext("POST", "/actions/delete_route", 409, "conflict");
    api.failNext("POST", "/actions/add_route", 500, "server_error");
    const result = await member.takeover(["run"]);
    expect(result.status, result.stderr).toBe(0);
    endState();
    const waits = (path: string) => [...result.stderr.matchAll(new RegExp(`${path}: HTTP \\d+ [a-z_]+; retrying in ([0-9.]+)s`, "g"))].map((match) => Number(match[1]));
    // 423 first: the short wait; then 429 at least the rate limit's second; then doubling up to the cap.
    expect(waits("/actions/assign")).toEqual([0.1, 0.4, 0.8]);
    expect(waits("/actions/delete_route")).toEqual([0.1]);
    expect(waits("/actions/add_route")).toEqual([0.1]);
    expect(api.pendingFailures, "every fault was met").toBe(0);
  });

  it("a retry in the route lane never holds the floating IP lane", async () => {
    member.env.NATGW_BACKOFF_INITIAL_SECONDS = "0.2";
    member.env.NATGW_BACKOFF_MAX_SECONDS = "0.4";
    api.failNext("POST", "/actions/delete_route", 500, "server_error", 3);
    expect((await member.takeover(["run"])).status).toBe(0);
    endState();
    const requests = api.requests.map((request) => `${request.method} ${request.path}`);
    const lastDelete = requests.lastIndexOf("POST /networks/4711/actions/delete_route");
    // The assign was posted, and its action (the first one: every delete before the
    // last failed) polled, while the route lane was still backing off.
    expect(requests.indexOf(`POST /floating_ips/${FLOATING_IP_ID}/actions/assign`)).toBeLessThan(lastDelete);
    expect(requests.indexOf("GET /actions/1000")).toBeGreaterThan(-1);
    expect(requests.indexOf("GET /actions/1000")).toBeLessThan(lastDelete);
  });

  it("once while a run holds the lock reports the run's pid and exits 75; a second run leaves the first to it", async () => {
    api.outage = "unavailable";
    let runPid = 0;
    const running = member.takeover(["run"], (pid) => (runPid = pid));
    await waitFor("a request turned away by the outage", 30_000, () => api.outageAnswers > 0);
    const once = await member.takeover(["once", "--json"]);
    expect(once.status).toBe(75);
    expect(JSON.parse(once.stdout)).toEqual({ result: "busy", pid: runPid, mode: "run" });
    const second = await member.takeover(["run"]);
    expect(second.status).toBe(0);
    expect(second.stderr).toMatch(new RegExp(`a takeover is running \\(pid ${runPid}\\) and continues`));
    api.outage = null;
    expect((await running).status).toBe(0);
    expect(member.log()).toMatchObject([{ result: "ok" }]);
  });

  it("observe prints the state with GETs only, and needs no lock", async () => {
    const result = await member.takeover(["observe"]);
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      floatingIPs: [{ name: "primary", id: FLOATING_IP_ID, address: "203.0.113.10", server: 222 }],
      routes: [{ destination: "0.0.0.0/0", gateway: PEER_GATEWAY }],
    });
    expect(api.requests.map((request) => request.method)).toEqual(["GET", "GET"]);
    expect(member.state("takeover-rounds")).toBe("");
  });

  it("a 401 is fatal: not retried, and the takeover ends", async () => {
    writeFileSync(member.env.NATGW_TOKEN_FILE!, `${"d".repeat(64)}\n`, { mode: 0o600 });
    const result = await member.takeover(["run"]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/HTTP 401 unauthorized; not retried/);
    expect(api.requests).toHaveLength(2);
    expect(member.log()).toMatchObject([{ result: "failed", attempts: 1 }]);
  });
});
