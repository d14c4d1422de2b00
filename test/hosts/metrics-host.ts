import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { expect } from "vitest";
import type { Artifact } from "../../src/emit/artifact.js";
import { hostFiles } from "../support/artifacts.js";
import { run } from "../support/tools.js";

/**
 * A scratch host for the metrics program: stand-ins for nft, conntrack and
 * natgw-ctl, scratch textfile, state and /proc/sys directories, and the
 * member's config.json; and a reader of the exposition format it writes. The
 * test files that use it remove `scratch` when they end.
 */
export const scratch = mkdtempSync(join(tmpdir(), "natgw-metrics-"));

export function writeExecutable(path: string, text: string): void {
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
/** What `natgw-ctl sync --json` prints on an HA member whose conntrackd answers. */
export const SYNC_REPORT = {
  running: true,
  connections: 1102,
  fromPeer: { created: 1095, updated: 40, destroyed: 90, failed: 3 },
  messages: { sent: 812, received: 407, sendErrors: 2, receiveErrors: 0, lost: 3, malformed: 0 },
};

export function scratchHost(
  name: string,
  options: { rulesetLoaded: boolean; vrrpState?: string; takeovers?: string; takeoverRounds?: string; sync?: { running: boolean } },
) {
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
  // natgw-ctl sync: conntrackd's report, and exit 1 while it does not answer.
  const sync = options.sync ?? SYNC_REPORT;
  writeExecutable(
    join(bin, "natgw-ctl"),
    [
      "#!/bin/sh",
      `if [ "$*" = role ]; then echo ${(options.vrrpState ?? "unknown").trim()}; exit 0; fi`,
      `if [ "$*" = "sync --json" ]; then echo '${JSON.stringify(sync)}'; exit ${sync.running ? 0 : 1}; fi`,
      "exit 2",
      "",
    ].join("\n"),
  );
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
export function runScript(script: Artifact, env: NodeJS.ProcessEnv, dir: string, config = configs.get(script.member!)!) {
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
export function parseExposition(text: string): Map<string, number> {
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
