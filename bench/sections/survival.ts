import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { FAILURES, FailoverTraffic, SURVIVAL_SETUPS, type FailoverWithFlows } from "../../test/lab/survival.js";
import { BenchError, median, wholeNumberSetting } from "../measure.js";
import type { Section } from "../section.js";
import type { Table } from "../table.js";
import { deployedLab, labUnavailable } from "./lab.js";

/** Failovers of each kind, spec and fault setting; NATGW_BENCH_SURVIVAL_FAILOVERS overrides the three. */
const configuredFailovers = () => wholeNumberSetting("NATGW_BENCH_SURVIVAL_FAILOVERS", 3, 30);

/** How long the emulated API's actions run: as on the second, independent emulation of Hetzner that reported the stalls. */
const ACTION_SECONDS = 0.3;

/** The goals: the most a flow may answer later than egress when the failed member still forwarded, and egress with every kind of fault answered once. */
const LATE_GOAL_SECONDS = 1;
const FAULTS_GOAL_SECONDS = 6;

const FAULT_SETTINGS = [
  { faults: false, label: "none" },
  { faults: true, label: "each kind once" },
] as const;

interface Row {
  readonly spec: string;
  readonly failure: string;
  readonly faults: string;
  readonly forwardsUntilTakeover: boolean;
  readonly runs: readonly FailoverWithFlows[];
}

export const survivalSection: Section = {
  name: "survival",
  title: "Failover at scale: what established connections see",
  method: `In the network lab, on examples/ha.yaml and on examples/ports.yaml (fixed blocks of 1,024 ports over two egress IPs): four workers hold 250 TCP connections and 25 UDP flows each to the internet's echo service, every flow sending a line 5 times a second and reading the answer (the egress IP and port the internet saw; test/lab/programs/held.ts); a fifth worker opens and closes TCP connections all along and sends a UDP probe from a new socket every 20 ms (50 ms with port blocks), whose first answer through the new member marks egress working again. The active member then fails, three times for each kind (NATGW_BENCH_SURVIVAL_FAILOVERS sets how many), the members taking turns: keepalived killed with SIGKILL, keepalived stopped (SIGTERM, its goodbye advert sent), its private link cut at the cloud's end. Each kind runs with the emulated API answering every call, then with each kind of fault a takeover meets answered once (423 locked and 429 rate limited on the floating IP's assign, 409 conflict on the route's delete, 500 on its add); its actions take ${ACTION_SECONDS} s. Times are from the failure: the new member's keepalived reports MASTER, the emulated cloud has routed every floating IP and the route to it, and egress works through it (the prober's first answer after that: the failover time). For every held flow: whether it survived (the same socket, still answered, only ever from the egress IP and port it had), its stall (the longest time without an answer, from the failure), and how late it answered again after egress worked through the new member.`,
  unavailable: () => labUnavailable(),
  async run(context) {
    const failovers = configuredFailovers();
    const rows: Row[] = [];
    for (const setup of SURVIVAL_SETUPS) {
      const spec = readFileSync(join(context.repository, setup.spec), "utf8");
      const { lab, stop } = await deployedLab(context.scratch, basename(setup.spec, ".yaml"), spec, { workers: setup.workers, actionSeconds: ACTION_SECONDS });
      try {
        const traffic = await FailoverTraffic.start(lab, setup);
        for (const { faults, label } of FAULT_SETTINGS) {
          for (const failure of FAILURES) {
            const runs: FailoverWithFlows[] = [];
            for (let run = 1; run <= failovers; run += 1) {
              context.progress(`${setup.spec}, ${failure.name}, faults: ${label}: ${run} of ${failovers}`);
              if (faults) await lab.failEachKindOnce();
              const result = await traffic.fail(failure);
              const unmet = (await lab.cloudState()).pendingFaults;
              if (unmet > 0) throw new BenchError(`${setup.spec}, ${failure.name}: the takeover met ${unmet} of the faults it was given only after the failover`);
              runs.push(result);
              await failure.recover(lab, result.failed);
            }
            rows.push({ spec: setup.spec, failure: failure.name, faults: label, forwardsUntilTakeover: failure.forwardsUntilTakeover, runs });
          }
        }
      } finally {
        stop();
      }
    }
    return { tables: [table(rows, failovers)], notes: notes(rows) };
  },
};

const seconds = (milliseconds: number) => `${(milliseconds / 1000).toFixed(2)} s`;
const percent = (part: number, whole: number) => `${((100 * part) / whole).toFixed(1)} %`;
const failoverTimes = (row: Row) => row.runs.map((run) => run.failover.resumed);
const survived = (row: Row) => row.runs.reduce((sum, run) => sum + run.survival.survived, 0);
const flows = (row: Row) => row.runs.reduce((sum, run) => sum + run.survival.flows, 0);
const latest = (row: Row) => Math.max(...row.runs.map((run) => run.survival.late));

function table(rows: readonly Row[], failovers: number): Table {
  return {
    title: `Established flows through a failover (${failovers} of each; seconds after the failure, or after egress through the new member for "late")`,
    columns: ["spec", "failure", "API faults", "flows survived", "MASTER (median)", "routed (median)", "failover (median)", "(max)", "longest stall (median)", "(max)", "median stall", "late (max)"],
    rows: rows.map((row) => [
      row.spec,
      row.failure,
      row.faults,
      `${survived(row)} of ${flows(row)} (${percent(survived(row), flows(row))})`,
      seconds(median(row.runs.map((run) => run.failover.master))),
      seconds(median(row.runs.map((run) => run.failover.moved))),
      seconds(median(failoverTimes(row))),
      seconds(Math.max(...failoverTimes(row))),
      seconds(median(row.runs.map((run) => run.survival.longestStall))),
      seconds(Math.max(...row.runs.map((run) => run.survival.longestStall))),
      seconds(median(row.runs.map((run) => run.survival.medianStall))),
      seconds(latest(row)),
    ]),
  };
}

function notes(rows: readonly Row[]): string[] {
  const lost = rows.reduce((sum, row) => sum + flows(row) - survived(row), 0);
  const forwarding = rows.filter((row) => row.forwardsUntilTakeover);
  const lateWorst = Math.max(...forwarding.map(latest));
  const cut = rows.filter((row) => !row.forwardsUntilTakeover);
  const faulted = rows.filter((row) => row.faults !== "none");
  const faultedWorst = Math.max(...faulted.flatMap(failoverTimes));
  return [
    `Survival (goal 100 %): ${lost === 0 ? "every established flow survived every failover" : `${lost} flows did not survive: goal missed`}.`,
    `Late after egress when the failed member forwarded until the takeover (keepalived killed or stopped; goal at most ${LATE_GOAL_SECONDS} s): ${seconds(lateWorst)} at most. ${lateWorst <= LATE_GOAL_SECONDS * 1000 ? "Goal met." : "Goal missed."} After a link cut nothing forwards until the takeover, and every TCP sender backs off: ${seconds(Math.max(...cut.map(latest)))} at most.`,
    `Failover with each kind of fault answered once (goal at most ${FAULTS_GOAL_SECONDS} s): ${faulted.map((row) => `${row.spec}, ${row.failure} ${seconds(median(failoverTimes(row)))} in the median`).join("; ")}; ${seconds(faultedWorst)} at most. ${faultedWorst <= FAULTS_GOAL_SECONDS * 1000 ? "Goal met." : "Goal missed."}`,
  ];
}
