import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Artifact } from "../../src/emit/artifact.js";
import { buildExample, EXAMPLE_MEMBERS, hostFiles } from "../support/artifacts.js";
import { FakeHetznerApi, peerOwnsEverything } from "../support/hetzner-api.js";
import { waitFor } from "../support/wait.js";
import { isRoot, missingTools, Namespace, run, runAsync, type RunResult } from "../support/tools.js";

const CTL = "/usr/local/sbin/natgw-ctl";
const TAKEOVER = "/usr/local/lib/natgw/takeover";
const INTERFACES = "/usr/local/lib/natgw/interfaces";
const scripts = hostFiles(CTL);
const TOKEN = "a".repeat(32) + "B".repeat(32);
const SERVERS = { "prod-egress-1": 111, "prod-egress-2": 222, "dev-egress-1": 333 };
const FLOATING_IP_ID = 123456;

describe("natgw-ctl as shipped", () => {
  it("goes to every member, executable", () => {
    expect(scripts.map((file) => file.member)).toEqual(EXAMPLE_MEMBERS);
    for (const file of scripts) expect(file).toMatchObject({ role: "script", fileMode: "0755" });
  });
});

/**
 * Commands that need root (nft, systemctl, ip, sysctl) are replaced on PATH by
 * tiny programs printing canned answers, steered by files in `fake/`; curl, jq
 * and bash are the real ones, and the API is the fake Hetzner API. The takeover
 * asks `natgw-ctl role` for the live role: `fake/role` answers it.
 */
const FAKE_COMMANDS: Record<string, string> = {
  nft: `echo "nft $*" >>"$FAKE/calls"
[[ -e $FAKE/ruleset-loaded ]] || { echo "Error: No such file or directory" >&2; exit 1; }
case "$*" in
  "list chains inet") printf '%s\n' "table inet natgw {" "	chain forward {" "		type filter hook forward priority filter; policy drop;" "	}" "}" "table inet natgw_baseline {" "	chain input {" "		type filter hook input priority filter - 1; policy drop;" "	}" "}" ;;
  "-j list counters table inet natgw") echo '{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"counter": {"family": "inet", "name": "egress", "table": "natgw", "packets": 10, "bytes": 1000}}, {"counter": {"family": "inet", "name": "drop_metadata", "table": "natgw", "packets": 2, "bytes": 120}}]}' ;;
  "-j list table inet natgw") echo '{"nftables": [{"table": {"family": "inet", "name": "natgw"}}, {"chain": {"family": "inet", "table": "natgw", "name": "postrouting", "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}}, {"rule": {"family": "inet", "table": "natgw", "chain": "postrouting", "expr": [{"counter": "egress"}, {"snat": {"family": "ip", "addr": "203.0.113.10"}}]}}]}' ;;
esac`,
  sysctl: `echo "sysctl $*" >>"$FAKE/calls"
case "$*" in
  "-n net.ipv4.ip_forward") cat "$FAKE/ip_forward" ;;
  "-n net.netfilter.nf_conntrack_count") echo 2621 ;;
  "-n net.netfilter.nf_conntrack_max") echo 262144 ;;
esac`,
  ip: `LINKS='[{"ifname": "lo", "flags": ["LOOPBACK", "UP", "LOWER_UP"], "operstate": "UNKNOWN", "mtu": 65536, "address": "00:00:00:00:00:00", "addr_info": [{"local": "127.0.0.1", "prefixlen": 8}]},
 {"ifname": "eth0", "flags": ["BROADCAST", "UP", "LOWER_UP"], "operstate": "UP", "mtu": 1500, "address": "96:00:00:aa:bb:cc", "addr_info": [{"local": "198.51.100.20", "prefixlen": 32}]},
 {"ifname": "enp7s0", "flags": ["BROADCAST", "UP", "LOWER_UP"], "operstate": "UP", "mtu": 1450, "address": "86:00:00:aa:bb:cc", "addr_info": [{"local": "10.0.1.2", "prefixlen": 32}]}]'
case "$*" in
  "-j link show" | "-j address show") echo "$LINKS" ;;
  "-j link show dev "*) jq -c --arg name "$5" '[.[] | select(.ifname == $name)]' <<<"$LINKS" ;;
  "-j route show default") echo '[{"dst": "default", "gateway": "172.31.1.1", "dev": "eth0"}]' ;;
  "-j route show") jq -c '[{dst: "default", gateway: "172.31.1.1", dev: "eth0"}, {dst: .network.ipRange, gateway: "10.0.0.1", dev: "enp7s0"}]' "$NATGW_CONFIG" ;;
  *) echo "ip $*" >>"$FAKE/calls" ;;
esac`,
  systemctl: `echo "systemctl $*" >>"$FAKE/calls"`,
  logger: `echo "logger $*" >>"$FAKE/calls"`,
  "natgw-ctl-role": `echo "natgw-ctl $*" >>"$FAKE/calls"
[[ $* == role ]] && cat "$FAKE/role"`,
};

interface Host {
  readonly directory: string;
  readonly fake: string;
  readonly stateDir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly script: string;
}

function artifactOf(artifacts: Artifact[], member: string, hostPath: string): Artifact {
  const artifact = artifacts.find((candidate) => candidate.path === `hosts/${member}${hostPath}`);
  if (!artifact) throw new Error(`no ${hostPath} for ${member}`);
  return artifact;
}

/** A member's files in a temporary directory, with cloud.json as Terraform writes it. */
function makeHost(example: string, member: string, endpoint: string, cloud: object): Host {
  const artifacts = buildExample(example);
  const directory = mkdtempSync(join(tmpdir(), "natgw-ctl-"));
  const fake = join(directory, "fake");
  const bin = join(directory, "bin");
  const stateDir = join(directory, "state");
  mkdirSync(fake);
  mkdirSync(bin);
  for (const [name, body] of Object.entries(FAKE_COMMANDS)) writeFileSync(join(bin, name), `#!/usr/bin/env bash\n${body}\n`, { mode: 0o755 });
  writeFileSync(join(fake, "ruleset-loaded"), "");
  writeFileSync(join(fake, "ip_forward"), "1\n");
  // natgw-ctl reads some of /proc itself: a scratch one, whose ip_forward is the fake sysctl's.
  mkdirSync(join(directory, "proc", "sys", "net", "ipv4"), { recursive: true });
  symlinkSync(join(fake, "ip_forward"), join(directory, "proc", "sys", "net", "ipv4", "ip_forward"));
  writeFileSync(join(fake, "role"), example === "single" ? "active\n" : "MASTER\n");
  writeFileSync(join(directory, "config.json"), artifactOf(artifacts, member, "/etc/natgw/config.json").content);
  writeFileSync(join(directory, "cloud.json"), JSON.stringify(cloud));
  // No kernel settings to read back, unless a test gives the real file and a /proc/sys to match.
  writeFileSync(join(directory, "90-natgw.conf"), "");
  writeFileSync(join(directory, "token"), `${TOKEN}\n`, { mode: 0o600 });
  const script = join(directory, "natgw-ctl");
  writeFileSync(script, artifactOf(artifacts, member, CTL).content, { mode: 0o755 });
  const takeover = artifacts.find((candidate) => candidate.path === `hosts/${member}${TAKEOVER}`);
  if (takeover) writeFileSync(join(directory, "takeover"), takeover.content, { mode: 0o755 });
  writeFileSync(join(directory, "interfaces"), artifactOf(artifacts, member, INTERFACES).content, { mode: 0o755 });
  // The interfaces the fake `ip` lists, as the interfaces program finds them in sysfs.
  for (const [name, mac] of [["lo", "00:00:00:00:00:00"], ["eth0", "96:00:00:aa:bb:cc"], ["enp7s0", "86:00:00:aa:bb:cc"]]) {
    mkdirSync(join(directory, "sys", name), { recursive: true });
    writeFileSync(join(directory, "sys", name, "address"), `${mac}\n`);
  }
  const env: NodeJS.ProcessEnv = {
    PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    HOME: directory,
    FAKE: fake,
    NATGW_CONFIG: join(directory, "config.json"),
    NATGW_CLOUD: join(directory, "cloud.json"),
    NATGW_PROC_DIR: join(directory, "proc"),
    NATGW_SYSCTL_FILE: join(directory, "90-natgw.conf"),
    NATGW_TOKEN_FILE: join(directory, "token"),
    NATGW_STATE_DIR: stateDir,
    NATGW_API_ENDPOINT: endpoint,
    NATGW_TAKEOVER: join(directory, "takeover"),
    NATGW_INTERFACES: join(directory, "interfaces"),
    NATGW_SYS_CLASS_NET: join(directory, "sys"),
    NATGW_CTL: join(bin, "natgw-ctl-role"),
    NATGW_METADATA_URL: endpoint.replace(/\/v1$/, "/hetzner/v1/metadata"),
    NATGW_POLL_INITIAL_SECONDS: "0.01",
    NATGW_POLL_INTERVAL_SECONDS: "0.01",
    NATGW_BACKOFF_INITIAL_SECONDS: "0.01",
    NATGW_BACKOFF_MAX_SECONDS: "0.05",
    NATGW_FAILOVER_WAIT_SECONDS: "1",
  };
  return { directory, fake, stateDir, env, script };
}

/**
 * A process named keepalived standing in for keepalived's VRRP process: it runs
 * `natgw-ctl notify STATE` as its child for each state written to it, as
 * keepalived runs its notify script, and lives until stopped. natgw-ctl knows the
 * keepalived that reported a state by its pid and start time.
 */
interface FakeKeepalived {
  readonly pid: number;
  notify(state: string): Promise<string>;
  stop(): Promise<void>;
}

function startKeepalived(host: Host): FakeKeepalived {
  const program = join(host.directory, "keepalived");
  // #!/bin/bash, not env: the process keeps the name of the file it was started from.
  writeFileSync(program, `#!/bin/bash\nwhile read -r state; do bash ${host.script} notify "$state" >/dev/null 2>&1; echo "notified $state $?"; done\n`, { mode: 0o755 });
  const child = spawn(program, [], { env: host.env, stdio: ["pipe", "pipe", "inherit"] });
  symlinkSync(`/proc/${child.pid}`, join(host.directory, "proc", String(child.pid)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const lines = createInterface({ input: child.stdout! });
  const answers: string[] = [];
  const waiting: Array<(line: string) => void> = [];
  lines.on("line", (line) => (waiting.length > 0 ? waiting.shift()!(line) : answers.push(line)));
  return {
    pid: child.pid!,
    notify: (state) => {
      const answer = new Promise<string>((resolve) => (answers.length > 0 ? resolve(answers.shift()!) : waiting.push(resolve)));
      child.stdin!.write(`${state}\n`);
      return answer;
    },
    stop: async () => {
      child.kill("SIGKILL");
      await exited;
    },
  };
}

/** Runs the script without blocking: the fake API answers from this process. */
function ctl(host: Host, args: string[], onStart?: (pid: number) => void): Promise<RunResult> {
  return runAsync("bash", [host.script, ...args], { env: host.env, detached: true }, onStart);
}

function takeoverLog(host: Host): Array<Record<string, unknown>> {
  const path = join(host.stateDir, "takeovers.log");
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8").trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
}

const prodCloud = { networkId: 4711, servers: SERVERS, floatingIPs: { primary: { id: FLOATING_IP_ID, address: "203.0.113.10" } } };
const toolsMissing = missingTools("bash", "curl", "jq", "flock");

describe.skipIf(toolsMissing)("natgw-ctl against a fake Hetzner Cloud API", () => {
  let api: FakeHetznerApi;
  let host: Host;

  beforeEach(async () => {
    // The standby's view before a failover: everything points at prod-egress-2.
    api = await FakeHetznerApi.start(peerOwnsEverything(TOKEN, FLOATING_IP_ID));
    host = makeHost("ha", "prod-egress-1", api.endpoint, prodCloud);
  });

  afterEach(async () => {
    await api.stop();
    rmSync(host.directory, { recursive: true, force: true });
  });

  it("takeover assigns the floating IP and re-points the route to this member, verifies and logs it", async () => {
    const result = await ctl(host, ["takeover", "--json"]);
    expect(result.status, result.stderr).toBe(0);
    expect(api.floatingIPs.get(FLOATING_IP_ID)!.server).toBe(111);
    expect(api.networks.get(4711)).toEqual([{ destination: "0.0.0.0/0", gateway: "10.0.1.2" }]);
    const output = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(output).toMatchObject({ result: "ok", changes: 3 });
    const log = takeoverLog(host);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ result: "ok", attempts: 2 });
    expect(log[0]).toMatchObject({ changes: 3, reason: null });
    expect(Object.keys(log[0]!).sort()).toEqual(["attempts", "changes", "durationSeconds", "reason", "result", "time"]);
    expect(log[0]!.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(typeof log[0]!.durationSeconds).toBe("number");
    // Every POST's action was polled to success before the next change.
    expect(api.count("GET", "/actions/1000")).toBeGreaterThan(0);
    expect(result.stdout + result.stderr).not.toContain(TOKEN);
  });

  it("takeover on a member that already owns everything changes nothing", async () => {
    api.floatingIPs.get(FLOATING_IP_ID)!.server = 111;
    api.networks.set(4711, [{ destination: "0.0.0.0/0", gateway: "10.0.1.2" }]);
    const result = await ctl(host, ["takeover", "--json"]);
    expect(result.status, result.stderr).toBe(0);
    expect(api.count("POST")).toBe(0);
    expect(takeoverLog(host)[0]).toMatchObject({ result: "ok", attempts: 1 });
  });

  it("takeover retries `locked`, `conflict`, 429 and 500 answers with backoff", async () => {
    api.failNext("POST", "/actions/assign", 423, "locked");
    api.failNext("POST", "/actions/delete_route", 500, "server_error");
    api.failNext("POST", "/actions/add_route", 429, "rate_limit_exceeded");
    api.failNext("POST", "/actions/add_route", 409, "conflict");
    const result = await ctl(host, ["takeover"]);
    expect(result.status, result.stderr).toBe(0);
    expect(api.count("POST", "/actions/assign")).toBe(2);
    expect(api.count("POST", "/actions/delete_route")).toBe(2);
    expect(api.count("POST", "/actions/add_route")).toBe(3);
    expect(api.networks.get(4711)).toEqual([{ destination: "0.0.0.0/0", gateway: "10.0.1.2" }]);
    expect(result.stderr).toMatch(/HTTP 423 locked; retrying/);
  });

  it("a takeover the API's outage interrupts goes on once the API answers again, without a reconcile", async () => {
    api.outage = "unavailable";
    let exited = false;
    const running = ctl(host, ["takeover", "--json"]).finally(() => (exited = true));
    // Longer than a bounded takeover lasts: six attempts a request, three rounds.
    await waitFor("60 requests turned away by the outage, or the takeover to end", 30_000, () => exited || api.outageAnswers >= 60);
    api.outage = null;
    const result = await running;
    expect(result.status, result.stderr).toBe(0);
    expect(api.floatingIPs.get(FLOATING_IP_ID)!.server).toBe(111);
    expect(api.networks.get(4711)).toEqual([{ destination: "0.0.0.0/0", gateway: "10.0.1.2" }]);
    expect(takeoverLog(host)).toMatchObject([{ result: "ok" }]);
    // Before every round after the first it asked whether this member is still MASTER.
    expect(readFileSync(join(host.fake, "calls"), "utf8")).toMatch(/^natgw-ctl role$/m);
  });

  it("a retry in the floating IP lane never holds the route lane", async () => {
    host.env.NATGW_BACKOFF_INITIAL_SECONDS = "0.2";
    host.env.NATGW_BACKOFF_MAX_SECONDS = "0.4";
    api.failNext("POST", "/actions/assign", 423, "locked", 3);
    const result = await ctl(host, ["takeover"]);
    expect(result.status, result.stderr).toBe(0);
    const posts = api.requests.filter((request) => request.method === "POST").map((request) => request.path.replace(/^.*\/actions\//, ""));
    // The route was re-pointed while the floating IP's assign waited out its backoff.
    expect(posts.indexOf("add_route")).toBeGreaterThan(posts.indexOf("assign"));
    expect(posts.indexOf("add_route")).toBeLessThan(posts.lastIndexOf("assign"));
    expect(posts.filter((post) => post === "assign")).toHaveLength(4);
  });

  it("takeover does not repeat a 422 answer, fails and logs the failure", async () => {
    api.failNext("POST", "/actions/assign", 422, "invalid_input", 10);
    const result = await ctl(host, ["takeover"]);
    expect(result.status).not.toBe(0);
    expect(api.count("POST", "/actions/assign")).toBe(1);
    // One round: the route lane finished its own changes (never a route deleted and not added), then it stopped.
    expect(api.count("GET", "/floating_ips/123456")).toBe(1);
    expect(api.networks.get(4711)).toEqual([{ destination: "0.0.0.0/0", gateway: "10.0.1.2" }]);
    expect(takeoverLog(host)).toMatchObject([{ result: "failed", attempts: 1, reason: expect.stringMatching(/HTTP 422 invalid_input/) }]);
  });

  it("reconcile's takeover gives up after its rounds when the API keeps failing, and says so", async () => {
    const keepalived = startKeepalived(host);
    await keepalived.notify("MASTER");
    api.failNext("GET", "/networks/4711", 503, "unavailable", 1000);
    const result = await ctl(host, ["reconcile", "--json"]).finally(() => keepalived.stop());
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/giving up after 6 attempts/);
    expect(JSON.parse(result.stdout).steps.find((step: { name: string }) => step.name === "api")).toMatchObject({ ok: false });
    expect(JSON.parse(result.stdout).ok).toBe(false);
    expect(takeoverLog(host)).toMatchObject([{ result: "failed", attempts: 3 }]);
    // The other lane did not wait for it: the floating IP moved in the first round.
    expect(api.floatingIPs.get(FLOATING_IP_ID)!.server).toBe(111);
  });

  it("a takeover killed between delete_route and add_route is completed by the next reconcile", async () => {
    const deleted = api.holdAfter("delete_route");
    let pid = 0;
    const killed = ctl(host, ["takeover"], (started) => (pid = started));
    await deleted;
    process.kill(-pid, "SIGKILL");
    await killed;
    // Stranded: the route is gone, nothing points 0.0.0.0/0 anywhere.
    expect(api.networks.get(4711)).toEqual([]);
    const keepalived = startKeepalived(host);
    const result = await keepalived.notify("MASTER").then(() => ctl(host, ["reconcile", "--json"])).finally(() => keepalived.stop());
    expect(result.status, result.stderr).toBe(0);
    expect(api.networks.get(4711)).toEqual([{ destination: "0.0.0.0/0", gateway: "10.0.1.2" }]);
    expect(api.floatingIPs.get(FLOATING_IP_ID)!.server).toBe(111);
    // The killed takeover logged nothing; the reconcile that finished it did.
    expect(takeoverLog(host)).toMatchObject([{ result: "ok" }]);
    const report = JSON.parse(result.stdout) as { ok: boolean; steps: Array<{ name: string; ok: boolean }> };
    expect(report.steps.map((step) => [step.name, step.ok])).toEqual([
      ["sysctl", true],
      ["baseline", true],
      ["watchdog", true],
      ["ruleset", true],
      ["vrrp", true],
      ["addresses", true],
      ["api", true],
    ]);
    const calls = readFileSync(join(host.fake, "calls"), "utf8");
    expect(calls).toContain("sysctl --system");
    expect(calls).toContain("systemctl restart natgw-baseline.service");
    expect(calls).toContain("systemctl start natgw-watchdog.service");
    expect(calls).toContain("systemctl reload natgw-ruleset.service");
    // keepalived failed with the data plane at first boot; reconcile brings it back.
    expect(calls).toContain("systemctl start keepalived.service");
    expect(calls).toContain("ip address replace 203.0.113.10/32 dev eth0");
  });

  it("reconcile while a takeover runs leaves the API to it and says so", async () => {
    api.outage = "unavailable";
    const running = ctl(host, ["takeover"]);
    await waitFor("a request turned away by the outage", 30_000, () => api.outageAnswers > 0);
    const keepalived = startKeepalived(host);
    await keepalived.notify("MASTER");
    const result = await ctl(host, ["reconcile", "--json"]).finally(() => keepalived.stop());
    api.outage = null;
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).ok).toBe(true);
    expect(JSON.parse(result.stdout).steps.find((step: { name: string }) => step.name === "api")).toMatchObject({ ok: true, detail: expect.stringMatching(/^takeover in progress \(pid \d+, run\)/) });
    expect((await running).status).toBe(0);
    expect(takeoverLog(host)).toMatchObject([{ result: "ok" }]);
  });

  it("reconcile on the standby re-applies the host but leaves the API to the active member", async () => {
    writeFileSync(join(host.fake, "ip_forward"), "1\n");
    const keepalived = startKeepalived(host);
    const result = await keepalived.notify("BACKUP").then(() => ctl(host, ["reconcile", "--json"])).finally(() => keepalived.stop());
    expect(result.status, result.stderr).toBe(0);
    expect(api.requests).toHaveLength(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      ok: true,
      steps: [{}, {}, {}, {}, { name: "vrrp" }, {}, { name: "api", ok: true, detail: "skipped: prod-egress-1 is BACKUP; the active member owns the API end state" }],
    });
  });

  it("health never calls the API and fails when forwarding is off", async () => {
    const healthy = await ctl(host, ["health"]);
    expect(healthy.status, healthy.stdout).toBe(0);
    expect(healthy.stdout.trim()).toBe("healthy");
    writeFileSync(join(host.fake, "ip_forward"), "0\n");
    const unhealthy = await ctl(host, ["health", "--json"]);
    expect(unhealthy.status).toBe(1);
    const report = JSON.parse(unhealthy.stdout) as { ok: boolean; checks: Array<{ name: string; ok: boolean }> };
    expect(report.ok).toBe(false);
    expect(report.checks.filter((check) => !check.ok).map((check) => check.name)).toEqual(["forwarding"]);
    rmSync(join(host.fake, "ruleset-loaded"));
    expect((await ctl(host, ["health"])).stdout).toMatch(/unhealthy: ruleset expects table inet natgw loaded/);
    expect(api.requests).toHaveLength(0);
    // It runs every second: it asks nft for the tables' chains, never for a table's contents or its sets.
    const nftCalls = readFileSync(join(host.fake, "calls"), "utf8").split("\n").filter((line) => line.startsWith("nft "));
    expect(new Set(nftCalls)).toEqual(new Set(["nft list chains inet"]));
  });

  it("notify BACKUP records the state with keepalived's pid and start time, and logs the change", async () => {
    const keepalived = startKeepalived(host);
    try {
      expect(await keepalived.notify("BACKUP")).toBe("notified BACKUP 0");
      // Field 22 of /proc/PID/stat: the process's start time in clock ticks since boot.
      const start = readFileSync(`/proc/${keepalived.pid}/stat`, "utf8").replace(/^.*\) /s, "").split(" ")[19];
      expect(readFileSync(join(host.stateDir, "vrrp-state"), "utf8")).toBe(`BACKUP ${keepalived.pid} ${start}\n`);
      expect(readFileSync(join(host.fake, "calls"), "utf8")).toMatch(/logger -t natgw-ctl -- prod-egress-1 is now BACKUP/);
      const refused = await ctl(host, ["notify", "MASTER\nx"]);
      expect(refused.status).not.toBe(0);
      expect(readFileSync(join(host.stateDir, "vrrp-state"), "utf8")).toBe(`BACKUP ${keepalived.pid} ${start}\n`);
      expect(api.requests).toHaveLength(0);
    } finally {
      await keepalived.stop();
    }
  });

  it("role is the recorded state while the keepalived that recorded it runs, unknown once it is gone", async () => {
    const keepalived = startKeepalived(host);
    try {
      expect((await ctl(host, ["role"])).stdout, "nothing recorded yet").toBe("unknown\n");
      expect(await keepalived.notify("MASTER")).toBe("notified MASTER 0");
      const role = await ctl(host, ["role"]);
      expect(role.status, role.stderr).toBe(0);
      expect(role.stdout).toBe("MASTER\n");
      expect(JSON.parse((await ctl(host, ["status", "--json"])).stdout)).toMatchObject({ member: { role: "MASTER" } });
    } finally {
      await keepalived.stop();
    }
    // A crashed keepalived's last state is stale: the restarted one starts as BACKUP.
    expect((await ctl(host, ["role"])).stdout).toBe("unknown\n");
    expect(JSON.parse((await ctl(host, ["status", "--json"])).stdout)).toMatchObject({ member: { role: "unknown" } });
    expect(api.requests.filter((request) => request.method !== "GET"), "status only reads the API").toEqual([]);
  });

  it("role is unknown when the recorded pid now belongs to another process, or when no keepalived reported the state", async () => {
    const keepalived = startKeepalived(host);
    try {
      expect(await keepalived.notify("MASTER")).toBe("notified MASTER 0");
      const [state, pid, start] = readFileSync(join(host.stateDir, "vrrp-state"), "utf8").trim().split(" ");
      // The same pid, another start time: the kernel gave the pid to a new process.
      writeFileSync(join(host.stateDir, "vrrp-state"), `${state} ${pid} ${Number(start) - 1}\n`);
      expect((await ctl(host, ["role"])).stdout).toBe("unknown\n");
      // A state recorded while no keepalived ran never counts.
      writeFileSync(join(host.stateDir, "vrrp-state"), "MASTER\n");
      expect((await ctl(host, ["role"])).stdout).toBe("unknown\n");
      // Nor one reported by anything but keepalived: the process that ran notify is no keepalived.
      const direct = await ctl(host, ["notify", "MASTER"]);
      expect(direct.status, direct.stderr).toBe(0);
      expect(readFileSync(join(host.stateDir, "vrrp-state"), "utf8")).toBe("MASTER \n");
      expect((await ctl(host, ["role"])).stdout).toBe("unknown\n");
    } finally {
      await keepalived.stop();
    }
  });

  it("reconcile's sysctl step names each key of the sysctl file the kernel does not have, and stays ok", async () => {
    const sysctlFile = join(host.directory, "90-natgw.conf");
    writeFileSync(sysctlFile, artifactOf(buildExample("ha"), "prod-egress-1", "/etc/sysctl.d/90-natgw.conf").content);
    const settings = readFileSync(sysctlFile, "utf8").split("\n").filter((line) => /^[a-z]/.test(line)).map((line) => line.split(" = ") as [string, string]);
    expect(settings.map(([key]) => key)).toContain("net.netfilter.nf_conntrack_max");
    /** /proc/sys as the kernel shows it: several numbers separated by tabs. */
    const fabricate = (overrides: Record<string, string>) => {
      for (const [key, value] of settings) {
        const path = join(host.directory, "proc", "sys", ...key.split("."));
        mkdirSync(join(path, ".."), { recursive: true });
        writeFileSync(path, `${(overrides[key] ?? value).replace(/ /g, "\t")}\n`);
      }
    };
    host.env.NATGW_PROC_DIR = join(host.directory, "proc");
    host.env.NATGW_SYSCTL_FILE = sysctlFile;
    fabricate({ "net.netfilter.nf_conntrack_max": "65536" });
    const step = async () => {
      const result = await ctl(host, ["reconcile", "--json"]);
      expect(result.status, result.stderr).toBe(0);
      return (JSON.parse(result.stdout) as { steps: Array<{ name: string; ok: boolean; detail: string }> }).steps[0];
    };
    expect(await step()).toEqual({ name: "sysctl", ok: true, detail: `${sysctlFile} applied, but not in effect: net.netfilter.nf_conntrack_max is 65536, not 2097152` });
    expect(readFileSync(join(host.fake, "calls"), "utf8")).toContain("logger -t natgw-ctl -- kernel settings not in effect on prod-egress-1: net.netfilter.nf_conntrack_max is 65536, not 2097152\n");
    fabricate({});
    expect(await step()).toEqual({ name: "sysctl", ok: true, detail: `${sysctlFile} in effect` });
    expect(api.requests, "the role is unknown here: the API is left alone").toHaveLength(0);
  });

  it("failover takes this member out through its health check until --clear", async () => {
    await ctl(host, ["notify", "BACKUP"]);
    const handedOver = await ctl(host, ["failover", "--json"]);
    expect(handedOver.status, handedOver.stderr).toBe(0);
    expect(JSON.parse(handedOver.stdout)).toMatchObject({ member: "prod-egress-1", handedOver: true, explanation: expect.stringMatching(/prod-egress-2 becomes MASTER/) });
    expect((await ctl(host, ["health"])).status).toBe(1);
    expect((await ctl(host, ["failover", "--clear"])).status).toBe(0);
    expect((await ctl(host, ["health"])).status).toBe(0);
  });

  it("status --json reports role, owners as the API shows them, health and security defaults", async () => {
    const keepalived = startKeepalived(host);
    await keepalived.notify("MASTER");
    expect((await ctl(host, ["takeover"])).status).toBe(0);
    const requestsBefore = api.requests.length;
    const result = await ctl(host, ["status", "--json"]).finally(() => keepalived.stop());
    expect(result.status, result.stderr).toBe(0);
    expect(api.requests.slice(requestsBefore).map((request) => request.method)).toEqual(["GET", "GET"]);
    const status = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(status).toMatchObject({
      gateway: "prod-egress",
      mode: "ha",
      member: { name: "prod-egress-1", privateIp: "10.0.1.2", role: "MASTER", handedOver: false },
      peer: { name: "prod-egress-2", privateIp: "10.0.1.3" },
      subnet: "10.0.1.0/24",
      floatingIPs: [{ name: "primary", address: "203.0.113.10", server: 111, owner: "prod-egress-1" }],
      routes: [{ destination: "0.0.0.0/0", gateway: "10.0.1.2", owner: "prod-egress-1" }],
      health: { ok: true },
      connectivity: { probe: null },
      security: { blockSMTP25: true, blockedDestinations: ["169.254.0.0/16"], sshAllowedCIDRs: ["198.51.100.7/32"], metricsListen: "10.0.1.2:9100" },
    });
    expect(status.owners).toEqual({ observed: expect.stringMatching(/^\d{4}-/), reason: null });
  });

  it("status after a hand-back names the new active member as owner, not the last takeover's", async () => {
    const keepalived = startKeepalived(host);
    await keepalived.notify("MASTER");
    expect((await ctl(host, ["takeover"])).status).toBe(0);
    // prod-egress-2 took over: the API points everything at it.
    api.floatingIPs.get(FLOATING_IP_ID)!.server = 222;
    api.networks.set(4711, [{ destination: "0.0.0.0/0", gateway: "10.0.1.3" }]);
    await keepalived.notify("BACKUP");
    const result = await ctl(host, ["status", "--json"]).finally(() => keepalived.stop());
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      member: { name: "prod-egress-1", role: "BACKUP" },
      floatingIPs: [{ name: "primary", server: 222, owner: "prod-egress-2" }],
      routes: [{ destination: "0.0.0.0/0", gateway: "10.0.1.3", owner: "prod-egress-2" }],
    });
  });

  it("status without the API token names no owners and says why", async () => {
    rmSync(host.env.NATGW_TOKEN_FILE!);
    const result = await ctl(host, ["status", "--json"]);
    expect(result.status, result.stderr).toBe(0);
    const status = JSON.parse(result.stdout) as { owners: unknown; floatingIPs: unknown; routes: unknown };
    expect(status.owners).toEqual({ observed: null, reason: expect.stringMatching(/^no API token at .*token \(Terraform writes it after apply\)$/) });
    expect(status.floatingIPs).toEqual([{ name: "primary", address: "203.0.113.10", server: null, owner: null }]);
    expect(status.routes).toEqual([{ destination: "0.0.0.0/0", gateway: null, owner: null }]);
    expect(api.requests).toHaveLength(0);
  });

  it("diag --json reports interfaces, forwarding, NAT rules, conntrack, drops and takeovers", async () => {
    await ctl(host, ["takeover"]);
    const result = await ctl(host, ["diag", "--json"]);
    expect(result.status, result.stderr).toBe(0);
    const diag = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(diag).toMatchObject({
      member: "prod-egress-1",
      privateInterface: "enp7s0",
      publicInterface: "eth0",
      forwarding: true,
      ruleset: { loaded: true, natRules: 1, chains: [{ name: "postrouting", hook: "postrouting" }] },
      counters: { egress: { packets: 10, bytes: 1000 }, drop_metadata: { packets: 2, bytes: 120 } },
      conntrack: { entries: 2621, max: 262144, usagePercent: 1 },
      recentTakeovers: [{ result: "ok" }],
    });
    expect(diag.interfaces).toContainEqual({ name: "enp7s0", mac: "86:00:00:aa:bb:cc", mtu: 1450, state: "UP", addresses: ["10.0.1.2/32"] });
    const text = await ctl(host, ["diag"]);
    expect(text.stdout).toMatch(/^counters\.drop_metadata\.packets = 2$/m);
  });

  it("takeover refuses a token file others can read, before any request", async () => {
    chmodSync(host.env.NATGW_TOKEN_FILE!, 0o640);
    const result = await ctl(host, ["takeover"]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/refusing .*token: mode 640/);
    expect(api.requests).toHaveLength(0);
  });
});

describe.skipIf(toolsMissing)("natgw-ctl in Single mode", () => {
  let api: FakeHetznerApi;
  let host: Host;

  beforeEach(async () => {
    // natgw created the network, so its id is known only from cloud.json.
    api = await FakeHetznerApi.start({ token: TOKEN, floatingIPs: { 777: { address: "203.0.113.77", server: null } }, networks: { 9001: [] }, pollsPerAction: 3 });
    host = makeHost("single", "dev-egress-1", api.endpoint, { networkId: 9001, servers: SERVERS, floatingIPs: { primary: { id: 777, address: "203.0.113.77" } } });
  });

  afterEach(async () => {
    await api.stop();
    rmSync(host.directory, { recursive: true, force: true });
  });

  it("the only member is always active: reconcile converges the API end state", async () => {
    const result = await ctl(host, ["reconcile"]);
    expect(result.status, result.stderr).toBe(0);
    expect(api.floatingIPs.get(777)!.server).toBe(333);
    expect(api.networks.get(9001)).toEqual([{ destination: "0.0.0.0/0", gateway: "10.1.0.254" }]);
    expect(result.stdout).toMatch(/^steps\.5\.name = api$/m);
    const status = JSON.parse((await ctl(host, ["status", "--json"])).stdout) as { member: { role: string }; peer: unknown };
    expect(status.member.role).toBe("active");
    expect(status.peer).toBeNull();
  });

  it("without its server in cloud.json, the member asks the metadata service for its id", async () => {
    await api.stop();
    rmSync(host.directory, { recursive: true, force: true });
    api = await FakeHetznerApi.start({ token: TOKEN, floatingIPs: { 777: { address: "203.0.113.77", server: 1 } }, networks: { 9001: [] }, instanceId: 4242 });
    host = makeHost("single", "dev-egress-1", api.endpoint, { networkId: 9001, servers: {}, floatingIPs: { primary: { id: 777, address: "203.0.113.77" } } });
    const result = await ctl(host, ["takeover"]);
    expect(result.status, result.stderr).toBe(0);
    expect(api.count("GET", "/hetzner/v1/metadata/instance-id")).toBe(1);
    expect(api.floatingIPs.get(777)!.server).toBe(4242);
  });

  it("status reports the address a probe URL observed", async () => {
    host.env.NATGW_PROBE_URL = api.endpoint.replace(/\/v1$/, "/probe");
    const status = JSON.parse((await ctl(host, ["status", "--json"])).stdout) as { connectivity: unknown };
    // dev-egress-1's private IP is one of its sources: the probe leaves from it to be SNATed.
    expect(status.connectivity).toMatchObject({ probe: host.env.NATGW_PROBE_URL, path: "snat" });
    // batch-egress-1's is not (its sources are 10.30.8.0/26): the probe shows the member's own address.
    const batch = makeHost("ports", "batch-egress-1", api.endpoint, {});
    try {
      batch.env.NATGW_PROBE_URL = host.env.NATGW_PROBE_URL;
      const batchStatus = JSON.parse((await ctl(batch, ["status", "--json"])).stdout) as { connectivity: unknown };
      expect(batchStatus.connectivity).toEqual({ probe: host.env.NATGW_PROBE_URL, path: "member", ok: true, egressIp: "127.0.0.1" });
    } finally {
      rmSync(batch.directory, { recursive: true, force: true });
    }
  });

  it("role is always active: the only member runs no keepalived", async () => {
    const result = await ctl(host, ["role"]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toBe("active\n");
  });

  it("failover refuses: there is no standby", async () => {
    const result = await ctl(host, ["failover"]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/Single mode has no standby/);
  });
});

/**
 * health and diag with the real ip, nft and sysctl, in a throwaway namespace whose
 * veth pair carries Hetzner's MAC prefixes: what the command doubles above answer must be what
 * the real tools print.
 */
const namespaceMissing = missingTools("ip", "nft", "sysctl", "jq") ?? (isRoot() ? undefined : "needs root for network namespaces");

describe.skipIf(namespaceMissing)("natgw-ctl health and diag with the real tools", () => {
  let namespace: Namespace;
  let host: Host;

  beforeAll(() => {
    namespace = new Namespace(["ens10", "eth0"]);
    host = makeHost("ha", "prod-egress-2", "http://127.0.0.1:9/v1", prodCloud);
    // The namespace's own /proc/sys/net and /sys/class/net: forwarding and NICs as the kernel has them.
    delete host.env.NATGW_PROC_DIR;
    delete host.env.NATGW_SYS_CLASS_NET;
    // Only the fake logger stays on PATH: keepalived's notifications are not for this host's journal.
    host.env.PATH = `${join(host.directory, "bin-logger")}:/usr/sbin:/usr/bin:/sbin:/bin`;
    mkdirSync(join(host.directory, "bin-logger"));
    writeFileSync(join(host.directory, "bin-logger", "logger"), `#!/usr/bin/env bash\n${FAKE_COMMANDS.logger}\n`, { mode: 0o755 });
    for (const [name, mac] of [["ens10", "86:00:00:00:00:03"], ["eth0", "96:00:00:00:00:03"]] as const) {
      expect(namespace.exec("ip", ["link", "set", name, "address", mac]).status).toBe(0);
    }
    expect(namespace.exec("ip", ["address", "add", "10.0.1.3/32", "dev", "ens10"]).status).toBe(0);
    // As Hetzner's DHCP sets them: the network's range via its router, on the private NIC.
    expect(namespace.exec("ip", ["route", "add", "10.0.0.1", "dev", "ens10"]).status).toBe(0);
    expect(namespace.exec("ip", ["route", "add", "10.0.0.0/16", "via", "10.0.0.1", "dev", "ens10"]).status).toBe(0);
    expect(namespace.exec("nft", ["-f", "-"], artifactOf(buildExample("ha"), "prod-egress-2", "/etc/natgw/baseline.nft").content).status).toBe(0);
    const ruleset = `table inet natgw {
  counter egress {}
  counter drop_metadata {}
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "eth0" ip saddr 10.0.0.0/16 counter name "egress" snat ip to 203.0.113.10
  }
}
`;
    expect(namespace.exec("nft", ["-f", "-"], ruleset).status).toBe(0);
    expect(namespace.exec("sysctl", ["-qw", "net.ipv4.ip_forward=1"]).status).toBe(0);
  });

  afterAll(() => {
    namespace?.remove();
    if (host) rmSync(host.directory, { recursive: true, force: true });
  });

  /** Runs natgw-ctl inside the namespace with the host's environment. */
  function ctlInNamespace(args: string[]) {
    const environment = Object.entries(host.env).map(([key, value]) => `${key}=${value}`);
    return namespace.exec("env", ["-i", ...environment, "bash", host.script, ...args]);
  }

  it("health passes with the table loaded, forwarding on and both NICs up, then fails without the table", () => {
    const healthy = ctlInNamespace(["health", "--json"]);
    expect(healthy.status, healthy.stdout + healthy.stderr).toBe(0);
    expect(JSON.parse(healthy.stdout)).toMatchObject({
      ok: true,
      checks: [
        { name: "ruleset" },
        { name: "baseline" },
        { name: "privateRoutes", detail: "route to 10.0.0.0/16 on the private interface" },
        { name: "forwarding" },
        { name: "privateInterface", detail: "private interface ens10 up" },
        { name: "publicInterface", detail: "public interface eth0 up" },
        { name: "handover" },
      ],
    });
    expect(namespace.exec("nft", ["delete", "table", "inet", "natgw"]).status).toBe(0);
    const unhealthy = ctlInNamespace(["health"]);
    expect(unhealthy.status).toBe(1);
    expect(unhealthy.stdout).toMatch(/^unhealthy: ruleset expects table inet natgw loaded$/m);
    expect(namespace.exec("nft", ["-f", "-"], "table inet natgw {\n  counter egress {}\n}\n").status).toBe(0);
  });

  /** The names of the checks that fail. */
  function failing(): string[] {
    const result = ctlInNamespace(["health", "--json"]);
    const report = JSON.parse(result.stdout) as { ok: boolean; checks: Array<{ name: string; ok: boolean }> };
    expect(result.status, result.stderr).toBe(report.ok ? 0 : 1);
    return report.checks.filter((check) => !check.ok).map((check) => check.name);
  }

  it("health fails on privateRoutes without the route to the network's range on the private interface", () => {
    expect(failing()).toEqual([]);
    expect(namespace.exec("ip", ["route", "del", "10.0.0.0/16"]).status).toBe(0);
    try {
      expect(failing()).toEqual(["privateRoutes"]);
      // A route to the range on another interface does not count.
      expect(namespace.exec("ip", ["route", "add", "10.0.0.0/16", "dev", "eth0"]).status).toBe(0);
      expect(failing()).toEqual(["privateRoutes"]);
      expect(namespace.exec("ip", ["route", "del", "10.0.0.0/16", "dev", "eth0"]).status).toBe(0);
    } finally {
      namespace.exec("ip", ["route", "add", "10.0.0.0/16", "via", "10.0.0.1", "dev", "ens10"]);
    }
    expect(failing()).toEqual([]);
  });

  it("health fails on baseline without table inet natgw_baseline", () => {
    expect(namespace.exec("nft", ["delete", "table", "inet", "natgw_baseline"]).status).toBe(0);
    try {
      expect(failing()).toEqual(["baseline"]);
      expect(ctlInNamespace(["health"]).stdout).toMatch(/^unhealthy: baseline expects table inet natgw_baseline loaded$/m);
    } finally {
      expect(namespace.exec("nft", ["-f", "-"], artifactOf(buildExample("ha"), "prod-egress-2", "/etc/natgw/baseline.nft").content).status).toBe(0);
    }
    expect(failing()).toEqual([]);
  });

  it("diag reads interfaces, the NAT rules and counters as the real tools print them", () => {
    const result = ctlInNamespace(["diag", "--json"]);
    expect(result.status, result.stderr).toBe(0);
    const diag = JSON.parse(result.stdout) as { interfaces: unknown[] } & Record<string, unknown>;
    expect(diag).toMatchObject({ privateInterface: "ens10", publicInterface: "eth0", forwarding: true, ruleset: { loaded: true }, counters: { egress: { packets: 0, bytes: 0 } } });
    expect(diag.interfaces).toContainEqual(expect.objectContaining({ name: "ens10", mac: "86:00:00:00:00:03", addresses: expect.arrayContaining(["10.0.1.3/32"]) }));
  });
});
