import type { ChildProcess } from "node:child_process";
import type { Interface } from "node:readline";
import type { Host, Lab } from "./lab.js";
import { INTERNET } from "./lab.js";
import type { Failover } from "./traffic.js";

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
export function survivalTable(rows: readonly { case: string; failover: Failover; survival: Survival }[]): string {
  const seconds = (milliseconds: number) => (milliseconds / 1000).toFixed(2).padStart(8);
  return [
    "Established flows through a failover (seconds after the failure, or after egress came back for `late`)",
    `${"case".padEnd(30)}${"flows".padStart(7)}${"survived".padStart(10)}${"egress".padStart(8)}${"stall".padStart(8)}${"median".padStart(8)}${"late".padStart(8)}`,
    ...rows.map(({ case: name, failover, survival: result }) =>
      [
        name.padEnd(30),
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
