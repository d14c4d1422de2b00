import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Artifact } from "../../src/emit/artifact.js";
import { emit } from "../../src/emit/emit.js";
import { buildExample, EXAMPLE_MEMBERS, EXAMPLES, hostFiles } from "../support/artifacts.js";
import { gateway, compileText } from "../support/spec.js";
import { isRoot, missingTools, Namespace, run } from "../support/tools.js";

const scripts = hostFiles("/usr/local/lib/natgw/metrics");
const scratch = mkdtempSync(join(tmpdir(), "natgw-metrics-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function writeExecutable(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, 0o755);
}

const COUNTERS = {
  nftables: [
    { metainfo: { version: "1.0.6", release_name: "Lester Gooch #5", json_schema_version: 1 } },
    ...[
      ["egress", 42, 4200],
      ["reply", 40, 64000],
      ["nat", 7, 700],
      ["drop_metadata", 3, 180],
      ["drop_smtp", 2, 120],
      ["drop_not_source", 1, 60],
      ["drop_invalid", 5, 200],
      ["drop_unnatted", 4, 160],
    ].map(([name, packets, bytes], handle) => ({ counter: { family: "inet", name, table: "natgw", handle, packets, bytes } })),
  ],
};

const CONNTRACK_STATS = [
  "cpu=0   \tfound=1 invalid=10 insert=0 insert_failed=2 drop=0 early_drop=0 error=0 search_restart=5 clash_resolve=0 chaintoolong=0 ",
  "cpu=1   \tfound=2 invalid=20 insert=0 insert_failed=3 drop=1 early_drop=0 error=0 search_restart=0 clash_resolve=0 chaintoolong=0 ",
].join("\n");

/**
 * A scratch host: `nft` and `conntrack` on PATH answer with canned output (or fail,
 * as they do before the ruleset loads), and the textfile, state and /proc/sys
 * directories are scratch directories.
 */
function scratchHost(name: string, options: { rulesetLoaded: boolean; vrrpState?: string; takeovers?: string; takeoverRounds?: string }) {
  const root = join(scratch, name);
  const bin = join(root, "bin");
  writeExecutable(
    join(bin, "nft"),
    options.rulesetLoaded
      ? `#!/bin/sh\n[ "$*" = "-j list counters table inet natgw" ] || exit 2\ncat <<'JSON'\n${JSON.stringify(COUNTERS)}\nJSON\n`
      : `#!/bin/sh\necho 'Error: No such file or directory' >&2\nexit 1\n`,
  );
  writeExecutable(
    join(bin, "conntrack"),
    `#!/bin/sh\ncase "$1" in\n-S) cat <<'TEXT'\n${CONNTRACK_STATS}\nTEXT\n;;\n-C) echo 1234 ;;\n*) exit 2 ;;\nesac\n`,
  );
  const procSys = join(root, "proc-sys");
  mkdirSync(join(procSys, "net/netfilter"), { recursive: true });
  mkdirSync(join(procSys, "net/ipv4"), { recursive: true });
  writeFileSync(join(procSys, "net/netfilter/nf_conntrack_max"), "262144\n");
  writeFileSync(join(procSys, "net/ipv4/ip_forward"), options.rulesetLoaded ? "1\n" : "0\n");
  const state = join(root, "state");
  mkdirSync(state, { recursive: true });
  // natgw-ctl tells the role: the state keepalived reported while it still runs, else unknown.
  writeExecutable(join(bin, "natgw-ctl"), `#!/bin/sh\n[ "$*" = role ] || exit 2\necho ${(options.vrrpState ?? "unknown").trim()}\n`);
  if (options.takeovers !== undefined) writeFileSync(join(state, "takeovers.log"), options.takeovers);
  if (options.takeoverRounds !== undefined) writeFileSync(join(state, "takeover-rounds"), options.takeoverRounds);
  const textfile = join(root, "textfile");
  const env = {
    ...process.env,
    PATH: `${bin}:${process.env.PATH}`,
    NATGW_TEXTFILE_DIR: textfile,
    NATGW_STATE_DIR: state,
    NATGW_PROC_SYS_DIR: procSys,
    NATGW_CTL: join(bin, "natgw-ctl"),
  };
  return { root, textfile, env };
}

const configs = new Map(hostFiles("/etc/natgw/config.json").map((config) => [config.member, config.content]));

/** Runs the program with its member's config.json (and, for a spec of a test's own, that one's). */
function runScript(script: Artifact, env: NodeJS.ProcessEnv, dir: string, config = configs.get(script.member!)!) {
  const path = join(dir, "metrics");
  writeExecutable(path, script.content);
  writeFileSync(join(dir, "config.json"), config);
  const result = run("env", [...Object.entries(env).map(([key, value]) => `${key}=${value}`), `NATGW_CONFIG=${join(dir, "config.json")}`, path]);
  return result;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*")(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*")*\})? (-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)$/;
const HELP = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*$/;
const TYPE = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge)$/;

/** Checks the exposition format line by line; returns samples by metric and label text. */
function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const help = new Set<string>();
  const types = new Map<string, string>();
  let family = "";
  expect(text.endsWith("\n"), "ends with a newline").toBe(true);
  for (const line of text.slice(0, -1).split("\n")) {
    const helpMatch = HELP.exec(line);
    const typeMatch = TYPE.exec(line);
    const sampleMatch = SAMPLE.exec(line);
    expect(helpMatch ?? typeMatch ?? sampleMatch, `line ${JSON.stringify(line)}`).not.toBeNull();
    if (helpMatch) {
      const name = helpMatch[1]!;
      expect(help.has(name), `${name} has one HELP line`).toBe(false);
      expect(name, "natgw's own metrics only").toMatch(/^natgw_/);
      help.add(name);
      family = name;
    } else if (typeMatch) {
      expect(typeMatch[1], "TYPE follows the HELP of the same metric").toBe(family);
      types.set(typeMatch[1]!, typeMatch[2]!);
    } else if (sampleMatch) {
      const name = sampleMatch[1]!;
      expect(name, "samples follow their own HELP and TYPE").toBe(family);
      expect(types.has(name), `${name} has a TYPE`).toBe(true);
      const key = `${name}${sampleMatch[2] ?? ""}`;
      expect(samples.has(key), `${key} appears once`).toBe(false);
      samples.set(key, Number(sampleMatch[5]));
    }
  }
  for (const [name, type] of types) {
    if (type === "counter") expect(name, "a counter ends in _total").toMatch(/_total$/);
    else expect(name, "a gauge does not pretend to be a counter").not.toMatch(/_total$/);
    if (/bytes|seconds/.test(name)) expect(name, "units at the end").toMatch(/_(bytes|seconds)(_total)?$/);
  }
  return samples;
}

describe.skipIf(missingTools("bash", "jq"))("the metrics script", () => {
  it("is rendered for every member with metrics enabled", () => {
    expect(scripts.map((script) => script.member)).toEqual(EXAMPLE_MEMBERS);
  });

  const ha = scripts.find((script) => script.member === "prod-egress-1")!;
  const single = scripts.find((script) => script.member === "dev-egress-1")!;

  it("writes every natgw metric in the exposition format from nft, conntrack and natgw-ctl's state", () => {
    const host = scratchHost("loaded", {
      rulesetLoaded: true,
      vrrpState: "MASTER\n",
      takeovers: [
        '{"time":"2026-11-23T10:00:00Z","result":"ok","durationSeconds":4.5,"attempts":1}',
        "not a JSON line",
        '{"time":"2026-11-23T11:00:00Z","result":"failed","durationSeconds":31,"attempts":5}',
        '{"time":"2026-11-23T12:00:00Z","result":"ok","durationSeconds":3.25,"attempts":2}',
        '{"time":"2026-11-23T13:00:00Z","result":"stopped","durationSeconds":60.5,"attempts":14,"changes":0,"reason":"prod-egress-1 is BACKUP now"}',
        '{"time":"2026-11-23T14:00:00Z","result":"ok","durationSeconds":2.75,"attempts":2,"changes":3,"reason":null}',
        "",
      ].join("\n"),
      takeoverRounds: "21\n",
    });
    const result = runScript(ha, host.env, host.root);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(readdirSync(host.textfile), "only the finished file remains").toEqual(["natgw.prom"]);
    const samples = parseExposition(readFileSync(join(host.textfile, "natgw.prom"), "utf8"));
    expect(Object.fromEntries(samples)).toEqual({
      natgw_ruleset_loaded: 1,
      natgw_egress_packets_total: 42,
      natgw_egress_bytes_total: 4200,
      natgw_return_packets_total: 40,
      natgw_return_bytes_total: 64000,
      natgw_nat_packets_total: 7,
      natgw_nat_bytes_total: 700,
      'natgw_dropped_packets_total{reason="invalid"}': 5,
      'natgw_dropped_packets_total{reason="metadata"}': 3,
      'natgw_dropped_packets_total{reason="not_source"}': 1,
      'natgw_dropped_packets_total{reason="smtp"}': 2,
      'natgw_dropped_packets_total{reason="unnatted"}': 4,
      'natgw_dropped_bytes_total{reason="invalid"}': 200,
      'natgw_dropped_bytes_total{reason="metadata"}': 180,
      'natgw_dropped_bytes_total{reason="not_source"}': 60,
      'natgw_dropped_bytes_total{reason="smtp"}': 120,
      'natgw_dropped_bytes_total{reason="unnatted"}': 160,
      natgw_forwarding_enabled: 1,
      natgw_conntrack_entries: 1234,
      natgw_conntrack_limit: 262144,
      'natgw_conntrack_events_total{event="chaintoolong"}': 0,
      'natgw_conntrack_events_total{event="clash_resolve"}': 0,
      'natgw_conntrack_events_total{event="drop"}': 1,
      'natgw_conntrack_events_total{event="early_drop"}': 0,
      'natgw_conntrack_events_total{event="error"}': 0,
      'natgw_conntrack_events_total{event="found"}': 3,
      'natgw_conntrack_events_total{event="insert"}': 0,
      'natgw_conntrack_events_total{event="insert_failed"}': 5,
      'natgw_conntrack_events_total{event="invalid"}': 30,
      'natgw_conntrack_events_total{event="search_restart"}': 5,
      'natgw_vrrp_state{state="BACKUP"}': 0,
      'natgw_vrrp_state{state="FAULT"}': 0,
      'natgw_vrrp_state{state="MASTER"}': 1,
      'natgw_vrrp_state{state="STOP"}': 0,
      'natgw_takeovers_total{result="failed"}': 1,
      'natgw_takeovers_total{result="ok"}': 3,
      'natgw_takeovers_total{result="stopped"}': 1,
      natgw_takeover_rounds_total: 21,
      natgw_takeover_last_duration_seconds: 2.75,
    });
  });

  it("reports an unloaded ruleset and no traffic when table inet natgw is missing", () => {
    const host = scratchHost("unloaded", { rulesetLoaded: false, vrrpState: "FAULT" });
    const result = runScript(ha, host.env, host.root);
    expect(result.status, result.stderr).toBe(0);
    const samples = parseExposition(readFileSync(join(host.textfile, "natgw.prom"), "utf8"));
    expect(samples.get("natgw_ruleset_loaded")).toBe(0);
    expect(samples.get("natgw_forwarding_enabled")).toBe(0);
    expect([...samples.keys()].filter((key) => /egress|return|nat_|dropped/.test(key))).toEqual([]);
    expect(samples.get('natgw_vrrp_state{state="FAULT"}')).toBe(1);
    expect(samples.get('natgw_takeovers_total{result="ok"}')).toBe(0);
    expect(samples.get("natgw_takeover_rounds_total")).toBe(0);
    expect(samples.has("natgw_takeover_last_duration_seconds")).toBe(false);
  });

  it("sets no VRRP state while natgw-ctl cannot tell the role (keepalived crashed or not yet reported)", () => {
    for (const vrrpState of ["unknown", undefined]) {
      const host = scratchHost(`role-${vrrpState ?? "none"}`, { rulesetLoaded: true, vrrpState });
      const result = runScript(ha, host.env, host.root);
      expect(result.status, result.stderr).toBe(0);
      const samples = parseExposition(readFileSync(join(host.textfile, "natgw.prom"), "utf8"));
      const states = [...samples].filter(([key]) => key.startsWith("natgw_vrrp_state"));
      expect(states.map(([key]) => key)).toEqual(["BACKUP", "FAULT", "MASTER", "STOP"].map((state) => `natgw_vrrp_state{state="${state}"}`));
      expect(states.every(([, value]) => value === 0)).toBe(true);
    }
  });

  it("has no VRRP state in Single mode, where keepalived does not run", () => {
    const host = scratchHost("single", { rulesetLoaded: true });
    const result = runScript(single, host.env, host.root);
    expect(result.status, result.stderr).toBe(0);
    const samples = parseExposition(readFileSync(join(host.textfile, "natgw.prom"), "utf8"));
    expect([...samples.keys()].filter((key) => key.startsWith("natgw_vrrp"))).toEqual([]);
    expect(samples.get("natgw_egress_packets_total")).toBe(42);
  });

  it("probes egress latency only when an operator names a URL", () => {
    expect(ha.content).toContain("probe_url=${NATGW_PROBE_URL:-}");
    const host = scratchHost("probe", { rulesetLoaded: true });
    // Port 9 on loopback refuses the connection: a failed probe, without leaving the host.
    const result = runScript(ha, { ...host.env, NATGW_PROBE_URL: "http://127.0.0.1:9/" }, host.root);
    expect(result.status, result.stderr).toBe(0);
    const samples = parseExposition(readFileSync(join(host.textfile, "natgw.prom"), "utf8"));
    expect(samples.get("natgw_egress_probe_success")).toBe(0);
    expect(samples.has("natgw_egress_probe_duration_seconds")).toBe(false);
  });

  it.skipIf(missingTools("shellcheck"))("passes shellcheck", () => {
    for (const script of scripts) {
      const result = run("shellcheck", ["--shell=bash", "-"], script.content);
      expect(result.stdout + result.stderr, script.path).toBe("");
      expect(result.status).toBe(0);
    }
  });
});

describe("metrics files", () => {
  it("exist only when metrics are enabled", () => {
    const disabled = compileText(gateway({ spec: "  metrics: { enabled: false }\n" }));
    const paths = emit(disabled.model!).artifacts.map((artifact) => artifact.path);
    expect(paths.filter((path) => /metrics|node-exporter/.test(path))).toEqual([]);
    expect(buildExample("ha").filter((artifact) => /metrics|node-exporter/.test(artifact.path)).length).toBe(10);
  });

  it("bind node-exporter to the member's private IP and metrics port only", () => {
    const custom = emit(compileText(gateway({ spec: "  metrics: { enabled: true, port: 9200 }\n" })).model!).artifacts;
    const builds = [...EXAMPLES.map((example) => buildExample(example)), custom];
    for (const artifacts of builds) {
      for (const file of artifacts.filter((artifact) => artifact.path.endsWith("/etc/default/prometheus-node-exporter"))) {
        const config = JSON.parse(artifacts.find((artifact) => artifact.path === `hosts/${file.member}/etc/natgw/config.json`)!.content);
        const args = /^ARGS="([^"]*)"$/m.exec(file.content)![1]!.split(" ");
        expect(args.filter((arg) => arg.startsWith("--web.listen-address="))).toEqual([
          `--web.listen-address=${config.member.privateIp}:${config.metrics.port}`,
        ]);
        expect(args).toEqual(expect.arrayContaining(["--collector.conntrack", "--collector.netdev", "--collector.textfile"]));
        expect(args).toContain("--collector.textfile.directory=/var/lib/prometheus/node-exporter");
      }
    }
    expect(custom.find((artifact) => artifact.path.endsWith("/etc/default/prometheus-node-exporter"))!.content).toMatch(
      /--web\.listen-address=10\.0\.1\.[0-9]+:9200 /,
    );
  });
});

/** The member's files under a scratch root, beside a copy of the packaged units. */
function scratchRoot(name: string, member: string): string {
  const root = join(scratch, name);
  const artifacts = EXAMPLES.flatMap((example) => buildExample(example)).filter((artifact) => artifact.member === member);
  for (const artifact of artifacts) {
    const path = join(root, artifact.path.slice(`hosts/${member}`.length));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, artifact.content);
    chmodSync(path, Number.parseInt(artifact.fileMode, 8));
  }
  mkdirSync(join(root, "usr/lib/systemd"), { recursive: true });
  run("cp", ["-a", "/usr/lib/systemd/system", join(root, "usr/lib/systemd/")]);
  // verify checks that every command exists; the packaged binaries are not under
  // test, so empty executables stand in for them (Debian 12 merges /bin into /usr/bin).
  run("ln", ["-s", "usr/bin", join(root, "bin")]);
  for (const command of ["usr/bin/prometheus-node-exporter", "usr/bin/kill"]) writeExecutable(join(root, command), "#!/bin/sh\n");
  return root;
}

describe.skipIf(missingTools("systemd-analyze"))("metrics units", () => {
  for (const member of ["dev-egress-1", "prod-egress-1"]) {
    it(`${member}: pass systemd-analyze verify, with the node-exporter drop-in`, () => {
      const root = scratchRoot(`verify-${member}`, member);
      const result = run("systemd-analyze", [
        "verify",
        `--root=${root}`,
        "natgw-metrics.service",
        "natgw-metrics.timer",
        "prometheus-node-exporter.service",
      ]);
      expect(result.stderr).toBe("");
      expect(result.status).toBe(0);
    });
  }

  it("refresh every 15 seconds, after boot too", () => {
    for (const timer of hostFiles("/etc/systemd/system/natgw-metrics.timer")) {
      expect(timer.content).toMatch(/^OnBootSec=15s$/m);
      expect(timer.content).toMatch(/^OnUnitActiveSec=15s$/m);
      expect(timer.content).toMatch(/^AccuracySec=1s$/m);
      expect(timer.content).toMatch(/^WantedBy=timers\.target$/m);
    }
  });
});

describe.skipIf(missingTools("prometheus-node-exporter", "curl", "ip") ?? (isRoot() ? undefined : "needs root for a network namespace"))(
  "node-exporter with the rendered arguments",
  () => {
    it("serves the natgw metrics on the private IP and nowhere else", async () => {
      const artifacts = buildExample("ha");
      const defaults = artifacts.find((a) => a.path === "hosts/prod-egress-1/etc/default/prometheus-node-exporter")!;
      const script = artifacts.find((a) => a.path === "hosts/prod-egress-1/usr/local/lib/natgw/metrics")!;
      const host = scratchHost("served", { rulesetLoaded: true, vrrpState: "BACKUP\n" });
      expect(runScript(script, host.env, host.root).status).toBe(0);
      const args = /^ARGS="([^"]*)"$/m
        .exec(defaults.content)![1]!
        .split(" ")
        .map((arg) => arg.replace(/^(--collector\.textfile\.directory=).*$/, `$1${host.textfile}`));
      const namespace = new Namespace();
      let exporter: ReturnType<typeof spawn> | undefined;
      try {
        // The address first: node-exporter exits when it cannot bind the listen address.
        expect(namespace.exec("ip", ["address", "add", "10.0.1.2/24", "dev", "enp7s0"]).status).toBe(0);
        exporter = spawn("ip", ["netns", "exec", namespace.name, "prometheus-node-exporter", ...args], { stdio: "ignore" });
        const scrape = namespace.exec("curl", [
          "--silent",
          "--fail",
          "--retry",
          "30",
          "--retry-delay",
          "1",
          "--retry-connrefused",
          "http://10.0.1.2:9100/metrics",
        ]);
        expect(scrape.status, scrape.stderr).toBe(0);
        expect(scrape.stdout).toMatch(/^node_textfile_scrape_error 0$/m);
        expect(scrape.stdout).toMatch(/^natgw_egress_packets_total 42$/m);
        expect(scrape.stdout).toMatch(/^natgw_vrrp_state\{state="BACKUP"\} 1$/m);
        expect(scrape.stdout).toMatch(/^node_nf_conntrack_entries_limit /m);
        expect(scrape.stdout).toMatch(/^node_network_receive_bytes_total\{device="enp7s0"\} /m);
        // curl exit 7: nothing listens on loopback.
        expect(namespace.exec("curl", ["--silent", "http://127.0.0.1:9100/metrics"]).status).toBe(7);
      } finally {
        exporter?.kill();
        namespace.remove();
      }
    });
  },
);
