import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, beforeEach } from "vitest";
import type { Artifact } from "../../src/emit/artifact.js";
import { buildExample } from "../support/artifacts.js";
import { FakeHetznerApi, peerOwnsEverything } from "../support/hetzner-api.js";
import { missingTools, runAsync, type RunResult } from "../support/tools.js";

/**
 * What natgw-ctl's tests share: a member's files in a scratch directory with
 * stand-ins for the commands that need root, a process standing in for
 * keepalived, and a fake Hetzner Cloud API made anew for every test.
 */
export const CTL = "/usr/local/sbin/natgw-ctl";
export const TAKEOVER = "/usr/local/lib/natgw/takeover";
export const INTERFACES = "/usr/local/lib/natgw/interfaces";
export const TOKEN = "a".repeat(32) + "B".repeat(32);
export const SERVERS = { "prod-egress-1": 111, "prod-egress-2": 222, "dev-egress-1": 333 };
export const FLOATING_IP_ID = 123456;


/**
 * Commands that need root (nft, systemctl, ip, sysctl, conntrackd) are replaced on PATH by
 * tiny programs printing canned answers, steered by files in `fake/`; curl, jq
 * and bash are the real ones, and the API is the fake Hetzner API. The takeover
 * asks `natgw-ctl role` for the live role: `fake/role` answers it.
 */
export const FAKE_COMMANDS: Record<string, string> = {
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
  // conntrackd -s as conntrackd 1.4.7 prints it; fake/conntrackd-stopped: it does not answer.
  conntrackd: `echo "conntrackd $*" >>"$FAKE/calls"
[[ ! -e $FAKE/conntrackd-stopped ]] || { echo "[ERROR] can't connect: is conntrackd running? appropriate permissions?" >&2; exit 1; }
printf '%s\n' "cache internal:" "current active connections:	        1102" "connections created:		        1250	failed:	           0" \
  "connections updated:		         512	failed:	           0" "connections destroyed:		         148	failed:	           0" "" \
  "external inject:" "connections created:		        1095	failed:	           2" "connections updated:		          40	failed:	           1" \
  "connections destroyed:		          90	failed:	           0" "" "traffic processed:" "                   0 Bytes                         0 Pckts" "" \
  "UDP traffic (active device=enp7s0):" "              123456 Bytes sent                 65432 Bytes recv" \
  "                 812 Pckts sent                   407 Pckts recv" "                   2 Error send                    0 Error recv" "" \
  "message tracking:" "                   0 Malformed msgs                    3 Lost msgs"`,
  systemctl: `echo "systemctl $*" >>"$FAKE/calls"`,
  logger: `echo "logger $*" >>"$FAKE/calls"`,
  "natgw-ctl-role": `echo "natgw-ctl $*" >>"$FAKE/calls"
[[ $* == role ]] && cat "$FAKE/role"`,
};

export interface Host {
  readonly directory: string;
  readonly fake: string;
  readonly stateDir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly script: string;
}

export function artifactOf(artifacts: Artifact[], member: string, hostPath: string): Artifact {
  const artifact = artifacts.find((candidate) => candidate.path === `hosts/${member}${hostPath}`);
  if (!artifact) throw new Error(`no ${hostPath} for ${member}`);
  return artifact;
}

/** A member's files in a temporary directory, with cloud.json as Terraform writes it. */
export function makeHost(example: string, member: string, endpoint: string, cloud: object): Host {
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
  for (const [name, mac] of [["lo", "00:00:00:00:00:00"], ["eth0", "96:00:00:aa:bb:cc"], ["enp7s0", "86:00:00:aa:bb:cc"]] as const) {
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
export interface FakeKeepalived {
  readonly pid: number;
  notify(state: string): Promise<string>;
  stop(): Promise<void>;
}

export function startKeepalived(host: Host): FakeKeepalived {
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
export function ctl(host: Host, args: string[], onStart?: (pid: number) => void): Promise<RunResult> {
  return runAsync("bash", [host.script, ...args], { env: host.env, detached: true }, onStart);
}

export function takeoverLog(host: Host): Array<Record<string, unknown>> {
  const path = join(host.stateDir, "takeovers.log");
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8").trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
}

export const prodCloud = { networkId: 4711, servers: SERVERS, floatingIPs: { primary: { id: FLOATING_IP_ID, address: "203.0.113.10" } } };
export const toolsMissing = missingTools("bash", "curl", "jq", "flock");

/** A member's host beside a fake API, both made anew for every test of the describe that calls this. */
export function hostWithApi(start: () => Promise<FakeHetznerApi>, host: (api: FakeHetznerApi) => Host): { api: FakeHetznerApi; host: Host } {
  const current = {} as { api: FakeHetznerApi; host: Host };
  beforeEach(async () => {
    current.api = await start();
    current.host = host(current.api);
  });
  afterEach(async () => {
    await current.api.stop();
    rmSync(current.host.directory, { recursive: true, force: true });
  });
  return current;
}

/** prod-egress-1 as the standby sees the API before a failover: everything points at prod-egress-2. */
export function prodEgress1BeforeFailover(): { api: FakeHetznerApi; host: Host } {
  return hostWithApi(
    () => FakeHetznerApi.start(peerOwnsEverything(TOKEN, FLOATING_IP_ID)),
    (api) => makeHost("ha", "prod-egress-1", api.endpoint, prodCloud),
  );
}
