import type { ChildProcess } from "node:child_process";
import type { Interface } from "node:readline";
import type { Host, Lab, Member } from "./lab.js";
import { INTERNET, waitFor } from "./lab.js";
import { connectionLoop, measureFailover, Prober, type ConnectionCount, type Failover } from "./traffic.js";

/**
 * What established connections see through a failover, at scale: four workers
 * hold 1,000 TCP connections and 100 UDP flows, each answered several times a
 * second, while a fifth opens and closes connections all along. The lab tests
 * (failover-connections.test.ts) hold the guarantee; the benchmark (bench's
 * survival section) reports the figures, with and without API faults.
 */

/** One flow of programs/held.ts between two moments (its header says what each field means). */
export interface HeldFlow {
  readonly kind: "tcp" | "udp";
  readonly local: string;
  readonly before: string | null;
  readonly seen: readonly string[];
  readonly ended: string | null;
  readonly gap: number;
  readonly resumed: number | null;
  readonly last: number | null;
}

/** What established flows went through in one failover. */
export interface Survival {
  readonly flows: number;
  /** Flows that lived on: not ended, answered again, and only ever with the mapping they had before. */
  readonly survived: number;
  /** "tcp 10.0.2.11:40000 ECONNRESET", for every flow that ended. */
  readonly ended: readonly string[];
  /** "udp 10.0.2.11:40000 192.0.2.10:40000 -> 192.0.2.10:1025", for every flow whose mapping changed. */
  readonly remapped: readonly string[];
  /** Flows that never answered again. */
  readonly silent: readonly string[];
  /** The longest and the median time a flow went without an answer, from the failure (ms). */
  readonly longestStall: number;
  readonly medianStall: number;
  /** How long after egress worked through the new active member the last flow answered again (ms; 0 when none had stopped). */
  readonly late: number;
}

/**
 * Established TCP connections and UDP flows from one worker (programs/held.ts),
 * each answered by the echo service several times a second, for a whole suite.
 */
export class Held {
  private readonly pending: { resolve: (line: string) => void; reject: (error: Error) => void }[] = [];
  private errors = "";
  private exited: string | null = null;

  private constructor(
    private readonly child: ChildProcess,
    lines: Interface,
  ) {
    lines.on("line", (line) => this.pending.shift()?.resolve(line));
    child.stderr!.on("data", (chunk: Buffer) => (this.errors += chunk.toString()));
    child.once("exit", (code, signal) => {
      this.exited = `held exited (${code ?? signal}): ${this.errors}`;
      for (const waiting of this.pending.splice(0)) waiting.reject(new Error(this.exited));
    });
  }

  static async start(lab: Lab, worker: Host, flows: { tcp: number; udp: number; intervalMs?: number; sources?: string }): Promise<Held> {
    const args = [INTERNET.echo, INTERNET.streamPort, INTERNET.udpPorts[0], flows.tcp, flows.udp, flows.intervalMs ?? 200, flows.sources ?? "-"].map(String);
    const { child, lines } = await lab.startProgram(worker, "held", args);
    return new Held(child, lines);
  }

  /**
   * Every flow as it went from `from`, once each has answered after `after` or
   * ended, or at `until` at the latest (milliseconds since the epoch).
   */
  report(from: number, after: number, until: number): Promise<HeldFlow[]> {
    if (this.exited) return Promise.reject(new Error(this.exited));
    return new Promise((resolve, reject) => {
      // held answers by `until`; a report that does not come is a failure, never a hang.
      const timer = setTimeout(() => reject(new Error(`no report from held ${Date.now() - until} ms after it was due (pid ${this.child.pid}): ${this.errors}`)), Math.max(0, until - Date.now()) + 10_000);
      this.pending.push({
        resolve: (line) => {
          clearTimeout(timer);
          resolve((JSON.parse(line) as { flows: HeldFlow[] }).flows);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.child.stdin!.write(`report ${from} ${after} ${until}\n`);
    });
  }
}

/**
 * Waits until every flow of every worker has answered after egress came back
 * through the new active member, or ended, or `patienceMs` passed, and then
 * tells how they went through the failover.
 */
export async function survival(held: readonly Held[], failover: Failover, patienceMs = 15_000): Promise<Survival> {
  const egress = failover.at + failover.resumed;
  const flows = (await Promise.all(held.map((one) => one.report(failover.at, egress, egress + patienceMs)))).flat();
  const name = (flow: HeldFlow) => `${flow.kind} ${flow.local}`;
  const remapped = flows.filter((flow) => flow.seen.some((mapping) => mapping !== flow.before));
  const silent = flows.filter((flow) => flow.ended === null && (flow.last ?? 0) <= egress);
  const stalls = flows.map((flow) => flow.gap).sort((a, b) => a - b);
  return {
    flows: flows.length,
    survived: flows.filter((flow) => flow.ended === null && !remapped.includes(flow) && !silent.includes(flow)).length,
    ended: flows.filter((flow) => flow.ended !== null).map((flow) => `${name(flow)} ${flow.ended}`),
    remapped: remapped.map((flow) => `${name(flow)} ${flow.before} -> ${flow.seen.filter((mapping) => mapping !== flow.before).join(", ")}`),
    silent: silent.map(name),
    longestStall: stalls.at(-1) ?? 0,
    medianStall: stalls[Math.floor(stalls.length / 2)] ?? 0,
    late: Math.max(0, ...flows.map((flow) => (flow.resumed ?? Infinity) - egress)),
  };
}

/** The figures as a table for the test output. */
export function survivalTable(rows: readonly { failover: Failover; survival: Survival }[]): string {
  const seconds = (milliseconds: number) => (milliseconds / 1000).toFixed(2).padStart(8);
  return [
    "Established flows through a failover (seconds after the failure, or after egress came back for `late`)",
    `${"case".padEnd(30)}${"flows".padStart(7)}${"survived".padStart(10)}${"egress".padStart(8)}${"stall".padStart(8)}${"median".padStart(8)}${"late".padStart(8)}`,
    ...rows.map(({ failover, survival: result }) =>
      [
        failover.case.padEnd(30),
        String(result.flows).padStart(7),
        `${((100 * result.survived) / Math.max(1, result.flows)).toFixed(1)} %`.padStart(10),
        seconds(failover.resumed),
        seconds(result.longestStall),
        seconds(result.medianStall),
        seconds(result.late),
      ].join(""),
    ),
  ].join("\n");
}

/** A spec to fail over, with the workers around it. */
export interface SurvivalSetup {
  readonly spec: string;
  /** Four workers carrying the held flows, and one opening and closing connections. */
  readonly workers: Readonly<Record<"w1" | "w2" | "w3" | "w4" | "churn", string>>;
  /** Each held worker's range of source addresses, for specs with port blocks. */
  readonly ranges?: Readonly<Record<"w1" | "w2" | "w3" | "w4", string>>;
  readonly egressIPs: readonly string[];
  /**
   * How often the prober opens a new UDP flow. Each one holds a port of its
   * source's block for the UDP timeout (30 s): with 1,024 ports per source and
   * destination, one every 20 ms would use the block up within 20 s, and the
   * probes would measure that limit instead of the failover.
   */
  readonly proberIntervalMs: number;
}

/** examples/ha.yaml (the kernel's SNAT port choice), and examples/ports.yaml (fixed port blocks over two egress IPs, from many sources). */
export const SURVIVAL_SETUPS: readonly SurvivalSetup[] = [
  { spec: "examples/ha.yaml", workers: { w1: "10.0.2.11", w2: "10.0.2.12", w3: "10.0.2.13", w4: "10.0.2.14", churn: "10.0.2.15" }, egressIPs: ["192.0.2.10"], proberIntervalMs: 20 },
  {
    spec: "examples/ports.yaml",
    workers: { w1: "10.30.8.0", w2: "10.30.8.16", w3: "10.30.8.32", w4: "10.30.8.48", churn: "10.30.8.60" },
    ranges: { w1: "10.30.8.0/28", w2: "10.30.8.16/28", w3: "10.30.8.32/28", w4: "10.30.8.48/29" },
    egressIPs: ["192.0.2.10", "192.0.2.11"],
    proberIntervalMs: 50,
  },
];

/** A way the active member fails, and how it comes back as the standby. */
export interface Failure {
  readonly name: string;
  /**
   * Whether the failed member forwards until the takeover moves its traffic
   * (keepalived alone failed), or nothing forwards in between (its link is gone).
   */
  readonly forwardsUntilTakeover: boolean;
  readonly fail: (lab: Lab, active: Member) => void;
  readonly recover: (lab: Lab, failed: Member) => Promise<void>;
}

async function backAsStandby(member: Member): Promise<void> {
  await waitFor(`${member.name} to come back as BACKUP`, 15_000, () => member.vrrpState() === "BACKUP");
}

export const FAILURES: readonly Failure[] = [
  {
    name: "keepalived killed (SIGKILL)",
    forwardsUntilTakeover: true,
    fail: (_, active) => active.crashKeepalived(),
    // systemd's Restart= brings it back.
    recover: (_, failed) => backAsStandby(failed),
  },
  {
    name: "keepalived stopped (SIGTERM)",
    forwardsUntilTakeover: true,
    fail: (_, active) => void active.must(["systemctl", "stop", "keepalived.service"]),
    recover: async (_, failed) => {
      failed.must(["systemctl", "start", "keepalived.service"]);
      await backAsStandby(failed);
    },
  },
  {
    name: "private link cut",
    forwardsUntilTakeover: false,
    fail: (lab, active) => lab.cutPrivateLink(active),
    recover: async (lab, failed) => {
      lab.restorePrivateLink(failed);
      await backAsStandby(failed);
    },
  },
];

/** One failover with flows: what the prober, the held flows and the new connections saw. */
export interface FailoverWithFlows {
  readonly failed: Member;
  readonly to: Member;
  readonly failover: Failover;
  readonly survival: Survival;
  readonly churn: ConnectionCount;
}

/**
 * The traffic failovers are measured against, in a lab deployed from a setup's
 * spec: new UDP flows (the prober) and connections that open and close (the
 * churn) from one worker, the held flows from the four others.
 */
export class FailoverTraffic {
  private constructor(
    private readonly lab: Lab,
    private readonly prober: Prober,
    private readonly held: readonly Held[],
  ) {}

  /** Starts the traffic in `lab`, deployed from the setup's spec with the setup's workers. */
  static async start(lab: Lab, setup: SurvivalSetup): Promise<FailoverTraffic> {
    for (const [name, range] of Object.entries(setup.ranges ?? {})) lab.addWorkerRange(name, range);
    const prober = await Prober.start(lab, lab.worker("churn"), setup.proberIntervalMs);
    const held: Held[] = [];
    for (const name of ["w1", "w2", "w3", "w4"] as const) {
      held.push(await Held.start(lab, lab.worker(name), { tcp: 250, udp: 25, sources: setup.ranges?.[name] }));
    }
    return new FailoverTraffic(lab, prober, held);
  }

  /** Fails the active member while connections open and close, and tells what every flow saw. */
  async fail(failure: Failure): Promise<FailoverWithFlows> {
    const failed = await this.lab.settled();
    const to = this.lab.members.find((member) => member !== failed)!;
    // One loop: each new connection holds a port of the churn worker's block for
    // TIME_WAIT; four loops opened hundreds a second, far more than a 1,024-port
    // block holds, and measured that limit rather than the failover.
    const churning = connectionLoop(this.lab, this.lab.worker("churn"), { destinations: [INTERNET.echo], port: INTERNET.streamPort, parallel: 1, countFrom: Date.now(), milliseconds: 12_000, timeoutMs: 1_000 });
    // Awaited whatever happens below: the lab's end would otherwise fail it unseen.
    const churn = churning.then((count) => count, (error: Error) => error);
    try {
      const failover = await measureFailover(this.lab, this.prober, failure.name, to, () => failure.fail(this.lab, failed));
      return { failed, to, failover, survival: await survival(this.held, failover), churn: await finished(churn) };
    } finally {
      await churn;
    }
  }
}

async function finished(churn: Promise<ConnectionCount | Error>): Promise<ConnectionCount> {
  const count = await churn;
  if (count instanceof Error) throw count;
  return count;
}
