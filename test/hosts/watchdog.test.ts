import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BASELINE_TABLE, NFT_TABLE } from "../../src/emit/hosts/nftables.js";
import { UNITS, WATCHDOG_PATH } from "../../src/emit/hosts/systemd.js";
import { hostFiles } from "../support/artifacts.js";
import { isRoot, missingTools, Namespace, run } from "../support/tools.js";
import { waitFor } from "../support/wait.js";

const PROGRAM = join("programs", WATCHDOG_PATH);
const units = hostFiles(`/etc/systemd/system/${UNITS.watchdog}`);
const shipped = hostFiles(WATCHDOG_PATH);
const baselines = hostFiles("/etc/natgw/baseline.nft");

describe("the watchdog as shipped", () => {
  it("is the same program on every member, byte for byte, executable", () => {
    expect(shipped.length).toBeGreaterThan(0);
    for (const file of shipped) {
      expect(file.content).toBe(readFileSync(PROGRAM, "utf8"));
      expect(file).toMatchObject({ role: "script", fileMode: "0755" });
    }
  });

  it.skipIf(missingTools("shellcheck"))("passes shellcheck", () => {
    const result = run("shellcheck", ["--shell=bash", PROGRAM]);
    expect(result.stdout + result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it("refuses arguments it does not understand, with its usage", () => {
    for (const args of [[], ["--table", "inet natgw; flush ruleset"], ["--table", "inet natgw", "--baseline-table", "inet natgw_baseline", "--baseline-file", "relative.nft", "--ruleset-unit", "natgw-ruleset.service"]]) {
      const result = run("bash", [PROGRAM, ...args]);
      expect(result.status, JSON.stringify(args)).toBe(2);
      expect(result.stderr).toMatch(/^usage: watchdog --table/);
    }
  });
});

/**
 * The unit's own command line, run in a network namespace with both tables: a
 * `systemctl` on PATH records its calls and answers is-active from a file, and
 * an `nft` on PATH records each call before running the real one, so a test can
 * wait for the watchdog to have looked.
 */
const namespaceMissing = missingTools("nft", "ip", "bash", "sysctl") ?? (isRoot() ? undefined : "network namespaces need root");

describe.skipIf(namespaceMissing)("the watchdog in a network namespace", () => {
  const scratch = mkdtempSync(join(tmpdir(), "natgw-watchdog-"));
  const bin = join(scratch, "bin");
  const calls = join(scratch, "systemctl-calls");
  const nftCalls = join(scratch, "nft-calls");
  const isActive = join(scratch, "is-active");
  const baselineFile = join(scratch, "baseline.nft");
  let namespace: Namespace;
  let watchdog: ChildProcess | null = null;
  let output = "";

  const forwarding = () => namespace.exec("sysctl", ["-n", "net.ipv4.ip_forward"]).stdout.trim();
  const tables = () => namespace.exec("nft", ["list", "tables"]).stdout.split("\n").filter(Boolean).sort();
  const systemctlCalls = () => readFileSync(calls, "utf8").split("\n").filter(Boolean);
  const looks = () => readFileSync(nftCalls, "utf8").split("\n").filter((line) => line === "list chains").length;

  function must(result: { status: number | null; stderr: string }): void {
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  }

  /** Both tables loaded, forwarding on, the unit found active or not. */
  function healthy(rulesetUnitActive: boolean): void {
    must(namespace.exec("nft", ["-f", baselineFile]));
    must(namespace.exec("nft", ["-f", "-"], `table ${NFT_TABLE} {}\n`));
    must(namespace.exec("sysctl", ["-qw", "net.ipv4.ip_forward=1"]));
    writeFileSync(isActive, rulesetUnitActive ? "0\n" : "3\n");
    writeFileSync(calls, "");
  }

  beforeAll(async () => {
    mkdirSync(bin);
    writeFileSync(join(bin, "systemctl"), `#!/bin/bash\necho "$*" >>${calls}\nif [[ $1 == is-active ]]; then exit "$(cat ${isActive})"; fi\n`);
    writeFileSync(join(bin, "nft"), `#!/bin/bash\necho "$*" >>${nftCalls}\nexec /usr/sbin/nft "$@"\n`);
    for (const name of ["systemctl", "nft"]) chmodSync(join(bin, name), 0o755);
    writeFileSync(nftCalls, "");
    // Any member's baseline: the watchdog only loads the file it is given.
    writeFileSync(baselineFile, baselines[0]!.content);
    namespace = new Namespace();
    healthy(false);
    // natgw-watchdog.service's ExecStart, with this test's baseline file, program and a short interval.
    const execStart = /^ExecStart=(.*)$/m.exec(units[0]!.content)![1]!;
    expect(execStart).toContain(`--table '${NFT_TABLE}' --baseline-table '${BASELINE_TABLE}' --baseline-file /etc/natgw/baseline.nft --ruleset-unit ${UNITS.ruleset}`);
    const command = execStart.replace(WATCHDOG_PATH, `bash ${PROGRAM}`).replace("/etc/natgw/baseline.nft", baselineFile).replace(/--interval \d+/, "--interval 0.05");
    watchdog = spawn("ip", ["netns", "exec", namespace.name, "env", `PATH=${bin}:/usr/sbin:/usr/bin:/sbin:/bin`, "sh", "-c", `exec ${command}`], { detached: true, stdio: ["ignore", "ignore", "pipe"] });
    watchdog.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    await waitFor("the watchdog to start", 10_000, () => output.includes("natgw-watchdog: watching table inet natgw"));
  });

  afterAll(() => {
    if (watchdog?.pid) {
      try {
        process.kill(-watchdog.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    namespace?.remove();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("with both tables loaded it changes nothing: forwarding stays on, no unit is touched", async () => {
    healthy(true);
    const before = looks();
    await waitFor("the watchdog to look at the tables twice", 10_000, () => looks() >= before + 2);
    expect(forwarding()).toBe("1");
    expect(tables()).toEqual([`table ${NFT_TABLE}`, `table ${BASELINE_TABLE}`]);
    expect(systemctlCalls()).toEqual([]);
  });

  it("after `nft flush ruleset` forwarding is off and the baseline table is back", async () => {
    healthy(false);
    must(namespace.exec("nft", ["flush", "ruleset"]));
    await waitFor("forwarding off and the baseline back", 10_000, () => forwarding() === "0" && tables().includes(`table ${BASELINE_TABLE}`));
    expect(tables()).toEqual([`table ${BASELINE_TABLE}`]);
    // The unit is not active: nothing to stop, and the watchdog never loads the main table itself.
    expect(systemctlCalls()).not.toContain(`stop --no-block ${UNITS.ruleset}`);
    // Its log line follows the load through a pipe.
    await waitFor("the watchdog to say it loaded the baseline", 10_000, () => /table inet natgw_baseline was gone; loaded .*baseline\.nft again/.test(output));
  });

  it("after `nft delete table inet natgw` forwarding is off and the active ruleset unit is stopped", async () => {
    healthy(true);
    must(namespace.exec("nft", ["delete", "table", ...NFT_TABLE.split(" ")]));
    await waitFor("systemctl stop of the ruleset unit", 10_000, () => systemctlCalls().includes(`stop --no-block ${UNITS.ruleset}`));
    expect(forwarding()).toBe("0");
    expect(systemctlCalls()[0]).toBe(`is-active --quiet ${UNITS.ruleset}`);
  });

  it("a deleted baseline table alone is loaded again, and forwarding stays on", async () => {
    healthy(true);
    must(namespace.exec("nft", ["delete", "table", ...BASELINE_TABLE.split(" ")]));
    await waitFor("the baseline back", 10_000, () => tables().includes(`table ${BASELINE_TABLE}`));
    const before = looks();
    await waitFor("the watchdog to look again", 10_000, () => looks() >= before + 2);
    expect(forwarding()).toBe("1");
    expect(tables()).toEqual([`table ${NFT_TABLE}`, `table ${BASELINE_TABLE}`]);
    expect(systemctlCalls()).toEqual([]);
  });
});
