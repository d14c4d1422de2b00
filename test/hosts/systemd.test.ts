import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import type { Artifact } from "../../src/emit/artifact.js";
import { emitHosts } from "../../src/emit/hosts/hosts.js";
import { EXAMPLES } from "../support/artifacts.js";
import { isRoot, missingTools, run } from "../support/tools.js";

const RULESET_UNIT = "/etc/systemd/system/natgw-ruleset.service";
const FORWARDING_UNIT = "/etc/systemd/system/natgw-forwarding.service";
const KEEPALIVED_DROP_IN = "/etc/systemd/system/keepalived.service.d/natgw.conf";
const KEEPALIVED_CONF = "/etc/keepalived/keepalived.conf";
const BASELINE_UNIT = "/etc/systemd/system/natgw-baseline.service";
const WATCHDOG_UNIT = "/etc/systemd/system/natgw-watchdog.service";

/**
 * Every member's files by their path on the host. Straight from the host
 * emitter: the user-data size limit is cloud-init's concern, not the units'.
 */
const members = EXAMPLES.flatMap((example) => {
  const byMember = new Map<string, Map<string, Artifact>>();
  for (const artifact of emitHosts(compile([`examples/${example}.yaml`]).model!).artifacts) {
    if (!artifact.member || !artifact.path.startsWith("hosts/")) continue;
    const hostPath = artifact.path.slice(`hosts/${artifact.member}`.length);
    if (!byMember.has(artifact.member)) byMember.set(artifact.member, new Map());
    byMember.get(artifact.member)!.set(hostPath, artifact);
  }
  return [...byMember].map(([name, files]) => ({ name, files }));
});
const haMembers = members.filter((member) => member.files.has(KEEPALIVED_CONF));
const singleMembers = members.filter((member) => !member.files.has(KEEPALIVED_CONF));

/** A unit file as systemd reads it: section -> key -> every value, in order. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let section: Map<string, string[]> | undefined;
  for (const line of text.split("\n")) {
    if (!line.trim() || line.startsWith("#")) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      section = new Map();
      sections.set(header[1]!, section);
      continue;
    }
    const setting = /^(\w+)=(.*)$/.exec(line);
    if (!setting || !section) throw new Error(`not a unit file line: ${line}`);
    section.set(setting[1]!, [...(section.get(setting[1]!) ?? []), setting[2]!]);
  }
  return sections;
}

function unit(member: (typeof members)[number], hostPath: string) {
  const file = member.files.get(hostPath);
  expect(file, `${member.name} has ${hostPath}`).toBeDefined();
  const sections = parseUnit(file!.content);
  return (section: string, key: string) => sections.get(section)?.get(key) ?? [];
}

describe("boot order: ruleset, then forwarding, then keepalived", () => {
  it("every example has members, HA and Single alike", () => {
    expect(haMembers.length).toBeGreaterThan(0);
    expect(singleMembers.map((member) => member.name)).toEqual(["dev-egress-1"]);
  });

  for (const member of members) {
    it(`${member.name}: the ruleset loads in one nft transaction and reloads without a stop`, () => {
      const setting = unit(member, RULESET_UNIT);
      expect(setting("Service", "Type")).toEqual(["oneshot"]);
      expect(setting("Service", "RemainAfterExit")).toEqual(["yes"]);
      expect(setting("Service", "ExecStartPre")).toEqual(["/usr/local/lib/natgw/ruleset-runtime"]);
      expect(setting("Service", "ExecStart")).toEqual(["/usr/sbin/nft -f /etc/natgw/ruleset.nft"]);
      // Reload rewrites the runtime values and replaces the table while it stays loaded.
      expect(setting("Service", "ExecReload")).toEqual(["/usr/local/lib/natgw/ruleset-runtime", "/usr/sbin/nft -f /etc/natgw/ruleset.nft"]);
      expect(setting("Service", "ExecReload").join("\n")).not.toMatch(/systemctl|delete|flush|stop|restart/);
      expect(setting("Service", "ExecStop")).toEqual(['/usr/sbin/nft "add table inet natgw; delete table inet natgw"']);
      expect(setting("Unit", "After")).toEqual(["network-online.target natgw-baseline.service", "nftables.service"]);
      expect(setting("Unit", "Wants")).toEqual(["network-online.target natgw-baseline.service"]);
      expect(setting("Unit", "Before")).toEqual(["ssh.service"]);
      expect(setting("Install", "WantedBy")).toEqual(["multi-user.target"]);
    });

    it(`${member.name}: forwarding requires the loaded ruleset and stops with it`, () => {
      const setting = unit(member, FORWARDING_UNIT);
      for (const key of ["Requires", "After", "BindsTo"]) expect(setting("Unit", key), key).toEqual(["natgw-ruleset.service"]);
      expect(setting("Service", "Type")).toEqual(["oneshot"]);
      expect(setting("Service", "RemainAfterExit")).toEqual(["yes"]);
      expect(setting("Service", "ExecStart")).toEqual(["/usr/sbin/sysctl -w net.ipv4.ip_forward=1"]);
      expect(setting("Service", "ExecStop")).toEqual(["/usr/sbin/sysctl -w net.ipv4.ip_forward=0"]);
      expect(setting("Install", "WantedBy")).toEqual(["multi-user.target"]);
    });
  }

  for (const member of members) {
    it(`${member.name}: the baseline loads before the network, after nftables.service's flush, and nothing stops it`, () => {
      const setting = unit(member, BASELINE_UNIT);
      expect(setting("Unit", "DefaultDependencies")).toEqual(["no"]);
      expect(setting("Unit", "Wants")).toEqual(["network-pre.target"]);
      expect(setting("Unit", "Before")).toEqual(["network-pre.target natgw-ruleset.service ssh.service", "shutdown.target"]);
      expect(setting("Unit", "After")).toEqual(["local-fs.target nftables.service"]);
      expect(setting("Service", "Type")).toEqual(["oneshot"]);
      expect(setting("Service", "RemainAfterExit")).toEqual(["yes"]);
      expect(setting("Service", "ExecStart")).toEqual(["/usr/sbin/nft -f /etc/natgw/baseline.nft"]);
      expect(setting("Service", "ExecStop"), "stopping the unit leaves the table").toEqual([]);
      expect(setting("Install", "WantedBy")).toEqual(["sysinit.target"]);
    });

    it(`${member.name}: the watchdog runs always, restarted without limit, watching both tables`, () => {
      const setting = unit(member, WATCHDOG_UNIT);
      expect(setting("Unit", "After")).toEqual(["natgw-baseline.service"]);
      expect(setting("Unit", "StartLimitIntervalSec")).toEqual(["0"]);
      expect(setting("Service", "Restart")).toEqual(["always"]);
      expect(setting("Service", "ExecStart")).toEqual([
        "/usr/local/lib/natgw/watchdog --table 'inet natgw' --baseline-table 'inet natgw_baseline' --baseline-file /etc/natgw/baseline.nft --ruleset-unit natgw-ruleset.service --interval 1",
      ]);
      expect(member.files.get("/usr/local/lib/natgw/watchdog")).toMatchObject({ role: "script", fileMode: "0755" });
      expect(setting("Install", "WantedBy")).toEqual(["multi-user.target"]);
    });
  }

  for (const member of haMembers) {
    it(`${member.name}: keepalived requires forwarding, so a member without a data plane never becomes MASTER`, () => {
      const setting = unit(member, KEEPALIVED_DROP_IN);
      for (const key of ["Requires", "After", "BindsTo"]) expect(setting("Unit", key), key).toEqual(["natgw-forwarding.service"]);
      expect(setting("Service", "ExecStartPre")).toHaveLength(1);
    });

    it(`${member.name}: a crashed keepalived comes back after a second, without a start limit`, () => {
      const setting = unit(member, KEEPALIVED_DROP_IN);
      expect(setting("Service", "Restart")).toEqual(["on-failure"]);
      expect(setting("Service", "RestartSec")).toEqual(["1"]);
      expect(setting("Unit", "StartLimitIntervalSec")).toEqual(["0"]);
    });
  }

  for (const member of singleMembers) {
    it(`${member.name}: Single mode has no keepalived files`, () => {
      expect([...member.files.keys()].filter((path) => path.includes("keepalived"))).toEqual([]);
    });
  }
});

/**
 * `systemd-analyze verify` (systemd 252) loads a unit with its drop-ins and
 * refuses one whose Exec binary is missing or not executable; with --root it
 * would look for every unit and binary under that root, including systemd's own
 * targets. So it runs on this machine's systemd, in a private mount namespace
 * where tmpfs covers /etc/systemd/system and /usr/local: there the member's own
 * files stand at their host paths (natgw's scripts included), Debian's binaries
 * and keepalived.service are the installed ones, and nothing leaks out.
 */
const verifySkip = missingTools("systemd-analyze", "unshare") ?? (isRoot() ? undefined : "needs root for a mount namespace");

describe.skipIf(verifySkip)("systemd-analyze verify", () => {
  const staging = mkdtempSync(join(tmpdir(), "natgw-systemd-"));
  afterAll(() => rmSync(staging, { recursive: true, force: true }));

  function verify(member: (typeof members)[number], leaveOut: string | null = null) {
    const root = join(staging, `${member.name}${leaveOut ? `-without${leaveOut.replace(/\//g, "-")}` : ""}`);
    for (const [hostPath, file] of member.files) {
      if (hostPath === leaveOut || !/^\/(etc\/systemd\/system|usr\/local)\//.test(hostPath)) continue;
      mkdirSync(dirname(join(root, hostPath)), { recursive: true });
      writeFileSync(join(root, hostPath), file.content);
      chmodSync(join(root, hostPath), Number.parseInt(file.fileMode, 8));
    }
    const units = [BASELINE_UNIT, WATCHDOG_UNIT, RULESET_UNIT, FORWARDING_UNIT, ...(member.files.has(KEEPALIVED_DROP_IN) ? ["/lib/systemd/system/keepalived.service"] : [])];
    const script = [
      "mount -t tmpfs -o mode=0755 tmpfs /etc/systemd/system",
      "mount -t tmpfs -o mode=0755 tmpfs /usr/local",
      `cp -a ${root}/etc/systemd/system/. /etc/systemd/system/`,
      `if [ -d ${root}/usr/local ]; then cp -a ${root}/usr/local/. /usr/local/; fi`,
      `exec systemd-analyze verify ${units.join(" ")}`,
    ].join("\n");
    return run("unshare", ["--mount", "--propagation", "private", "sh", "-ec", script]);
  }

  for (const member of members) {
    it(`${member.name}: the units and the keepalived drop-in verify without a warning`, () => {
      const result = verify(member);
      expect(result.stderr).toBe("");
      expect(result.status).toBe(0);
    });
  }

  it("the check has teeth: the watchdog unit without its program fails", () => {
    const result = verify(members[0]!, "/usr/local/lib/natgw/watchdog");
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("/usr/local/lib/natgw/watchdog is not executable");
  });

  it("the check has teeth: a unit whose ExecStartPre script is not shipped fails", () => {
    const result = verify(members[0]!, "/usr/local/lib/natgw/ruleset-runtime");
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("/usr/local/lib/natgw/ruleset-runtime is not executable");
  });
});
