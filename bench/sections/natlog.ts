import { rmSync } from "node:fs";
import { NATLOG_PROGRAM } from "../../src/emit/hosts/natlog.js";
import { sendUdpFlows, startNatLog } from "../../test/hosts/natlog-host.js";
import { member, namespaceMissing, TrafficNamespaces, work } from "../../test/hosts/nft-host.js";
import { missingTools } from "../../test/support/tools.js";
import { onCleanup } from "../cleanup.js";
import { BenchError, median } from "../measure.js";
import type { Section } from "../section.js";
import { formatCount, type Table } from "../table.js";
import { cpuSecondsOf } from "./lab.js";

/** New UDP flows a run offers, and the rates it offers them at (hping3's interval, in µs). */
const FLOWS = 10_000;
const INTERVALS_US = [500, 100];
/** The worker address: edge-egress's payments-api source, so every flow meets the policy lookup. */
const SOURCE = "10.20.16.5";
/** After hping3 exits: the time the log gets to read what is left, and the summary window. */
const SETTLE_MS = 3000;

interface Run {
  readonly seconds: number;
  readonly seen: number;
  readonly logged: number;
  readonly lostBursts: number;
  readonly logCpu: number;
  readonly conntrackCpu: number;
}

export const natlogSection: Section = {
  name: "natlog",
  title: "NAT log: what logging every new translation costs a member",
  method: `The NAT log program (programs${NATLOG_PROGRAM}) runs with examples/policies.yaml's config.json on a member with its real ruleset, in network namespaces (a worker, the member, the internet; test/hosts/nft-host.ts), its settings as the example has them: every translation, at most 50 lines a second, a summary every second for the benchmark (10 s on a host). A worker sends ${formatCount(FLOWS)} new UDP flows (hping3, one source port each) at two offered rates, through the policy lookup to the payments egress IP. Reported per run, as the median of the runs: the rate hping3 reached, the flows the log saw (its summaries' count of translations) against the flows sent, the lines it wrote, the overruns of conntrack's event buffer it reported, and the CPU time of the program and of its conntrack -E per flow (/proc/<pid>/stat, 10 ms ticks).`,
  // What the NAT log's tests need (test/hosts/natlog.test.ts).
  unavailable: () => namespaceMissing ?? missingTools("conntrack", "hping3", "python3"),
  async run(context) {
    const namespaces = new TrafficNamespaces();
    const stop = onCleanup(() => {
      namespaces.remove();
      rmSync(work, { recursive: true, force: true });
    });
    try {
      const rows: string[][] = [];
      for (const interval of INTERVALS_US) {
        const runs: Run[] = [];
        for (let run = 0; run < context.runs; run += 1) {
          context.progress(`one flow every ${interval} µs, run ${run + 1} of ${context.runs}`);
          runs.push(await measure(namespaces, interval));
        }
        const value = (pick: (run: Run) => number) => median(runs.map(pick));
        rows.push([
          formatCount(Math.round(1e6 / interval)),
          formatCount(Math.round(value((run) => FLOWS / run.seconds))),
          `${formatCount(Math.round(value((run) => run.seen)))} of ${formatCount(FLOWS)}`,
          formatCount(Math.round(value((run) => run.logged))),
          formatCount(Math.round(value((run) => run.lostBursts))),
          value((run) => (run.logCpu / run.seen) * 1e6).toFixed(1),
          value((run) => (run.conntrackCpu / run.seen) * 1e6).toFixed(1),
        ]);
      }
      const table: Table = {
        title: `NAT log: ${formatCount(FLOWS)} new flows through a member`,
        columns: ["offered flows/s", "reached flows/s", "seen by the log", "lines logged", "buffer overruns", "log CPU µs/flow", "conntrack -E CPU µs/flow"],
        rows,
      };
      return {
        tables: [table],
        notes: [
          "The lines logged stay at the limit (50 a second and one second's burst) whatever the rate; what a member pays is reading every event, the program's CPU per flow plus conntrack -E's, on one core of this machine.",
        ],
      };
    } finally {
      stop();
    }
  },
};

/** One run: the log started afresh on a flushed table, the flows sent, then the log's own counts and CPU. */
async function measure(namespaces: TrafficNamespaces, intervalUs: number): Promise<Run> {
  const host = namespaces.wire(member("edge-egress-1"), [SOURCE]);
  const log = await startNatLog(namespaces, host, { summarySeconds: 1 });
  try {
    namespaces.from(SOURCE);
    const before = { log: cpuSecondsOf([log.pid]), conntrack: cpuSecondsOf([log.conntrackPid]) };
    const began = performance.now();
    const sent = await sendUdpFlows(namespaces, FLOWS, intervalUs, 10000);
    const seconds = (performance.now() - began) / 1000;
    if (sent.status !== 0 && !/packets transmitted/.test(sent.stderr + sent.stdout)) throw new BenchError(`hping3 failed: ${sent.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const total = (key: string) => log.events("summary").reduce((sum, line) => sum + Number(line[key]), 0);
    return {
      seconds,
      seen: total("translations"),
      logged: log.events("translation").length,
      lostBursts: total("lost_bursts"),
      logCpu: cpuSecondsOf([log.pid]) - before.log,
      conntrackCpu: cpuSecondsOf([log.conntrackPid]) - before.conntrack,
    };
  } finally {
    await log.stop();
  }
}
