import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Lab, labSkipReason, namespacePids, type Host, type LabOptions, type Member } from "../../test/lab/lab.js";
import { hasTool } from "../../test/support/tools.js";
import { onCleanup } from "../cleanup.js";
import { BenchError } from "../measure.js";

/** Why the network lab cannot run here (root, its tools, and `extra` ones), or undefined. */
export function labUnavailable(...extra: string[]): string | undefined {
  const missing = extra.filter((tool) => !hasTool(tool));
  if (missing.length > 0) return `needs ${missing.join(", ")}`;
  try {
    return labSkipReason();
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * A lab for `spec` (text, written to the scratch directory), deployed: members
 * booted, pushed and one of them active. It is stopped with the benchmark's
 * other cleanups, however the run ends.
 */
export async function deployedLab(scratch: string, name: string, spec: string, options: Omit<LabOptions, "specs">): Promise<{ lab: Lab; stop: () => void }> {
  const path = join(scratch, `${name}.yaml`);
  writeFileSync(path, spec);
  const lab = await Lab.create({ ...options, specs: [path] });
  const stop = onCleanup(() => lab.stop());
  try {
    const { pushes } = await lab.deploy();
    const failed = pushes.find((push) => push.status !== 0);
    if (failed) throw new BenchError(`${name}: natgw-ctl reconcile failed in the lab:\n${failed.stderr}${failed.stdout}`);
  } catch (error) {
    stop();
    throw error;
  }
  return { lab, stop };
}

/**
 * A generated spec in Single mode: the data path is the same as through an HA
 * pair's active member, and the references can stop the ruleset without
 * keepalived handing the gateway to the other member meanwhile.
 */
export function single(spec: string): string {
  const gateway = "kind: NatGateway\nmetadata:";
  if (!spec.includes(gateway)) throw new BenchError("the generated spec has no NatGateway");
  return spec.replace(/^spec:\n/m, "spec:\n  highAvailability: { enabled: false }\n");
}

/** Labels of the references measured in the lab of the smallest ruleset. */
export const NO_RULESET = "forwarding, no ruleset";
export const MINIMAL_NAT = "conntrack + one SNAT rule, no natgw ruleset";

/**
 * Runs `measure` without any of natgw's tables, then `prepare` in their place:
 * forwarding alone, or the least a NAT gateway needs. A member stays closed
 * without its ruleset (the watchdog turns forwarding off, the baseline table
 * forwards only what the ruleset marked), so the watchdog stops and the
 * baseline goes too, for the measurement only. Everything starts again after.
 */
export async function withoutNatgwRuleset<T>(lab: Lab, prepare: (member: Member) => () => void, measure: () => T | Promise<T>): Promise<T> {
  const member = lab.members[0]!;
  member.must(["systemctl", "stop", "natgw-watchdog.service", "natgw-ruleset.service"]);
  member.must(["nft", "delete", "table", "inet", "natgw_baseline"]);
  const undo = prepare(member);
  try {
    return await measure();
  } finally {
    undo();
    member.must(["nft", "-f", "/etc/natgw/baseline.nft"]);
    member.must(["systemctl", "start", "natgw-ruleset.service", "natgw-forwarding.service", "natgw-watchdog.service"]);
  }
}

/** Forwarding and nothing else; the cloud routes the workers' own addresses (`sources`, a CIDR) back, since nothing translates them. */
export function forwardingOnly(lab: Lab, sources: string) {
  return (member: Member) => {
    member.must(["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    lab.cloud.must(["ip", "route", "add", sources, "via", member.publicIp]);
    return () => {
      lab.cloud.must(["ip", "route", "del", sources]);
      member.must(["sysctl", "-qw", "net.ipv4.ip_forward=0"]);
    };
  };
}

/** Connection tracking and one SNAT rule to the first floating IP: the cost of any stateful NAT. */
export function minimalNat(lab: Lab) {
  return (member: Member) => {
    const table = `table ip minimal_nat {\n\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t\toifname "eth0" snat to ${lab.floatingIPs[0]!.address}\n\t}\n}\n`;
    member.must(["nft", "-f", "-"], { input: table });
    member.must(["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    return () => {
      member.must(["sysctl", "-qw", "net.ipv4.ip_forward=0"]);
      member.must(["nft", "delete", "table", "ip", "minimal_nat"]);
    };
  };
}

/** USER_HZ, the unit of the times in /proc/<pid>/stat: 100 on every architecture Linux runs natgw on. */
const USER_HZ = 100;

/**
 * CPU seconds the processes took so far, with the children they waited for
 * (utime, stime, cutime, cstime of /proc/<pid>/stat). Over two readings of the
 * same long-lived processes, the difference is what they took in between, a
 * short-lived child's time included once it was reaped.
 */
export function cpuSecondsOf(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      ticks += fields.slice(11, 15).reduce((total, field) => total + Number(field), 0);
    } catch {
      // Gone since it was listed.
    }
  }
  return ticks / USER_HZ;
}

/** CPU seconds of every process in the hosts' network namespaces so far (see cpuSecondsOf). */
export function hostsCpuSeconds(hosts: readonly Host[]): number {
  return cpuSecondsOf(hosts.flatMap((host) => namespacePids(host.namespace)));
}
