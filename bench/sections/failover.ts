import { readFileSync } from "node:fs";
import { join } from "node:path";
import { waitFor, type Lab, type Member } from "../../test/lab/lab.js";
import type { CpuLoad } from "../../test/lab/load.js";
import { measureFailover, Prober, type Failover } from "../../test/lab/traffic.js";
import { median, wholeNumberSetting } from "../measure.js";
import type { Section } from "../section.js";
import type { Table } from "../table.js";
import { deployedLab, labUnavailable } from "./lab.js";

/** Failovers of each kind and load; NATGW_BENCH_FAILOVERS overrides the ten. */
const configuredFailovers = () => wholeNumberSetting("NATGW_BENCH_FAILOVERS", 10, 100);

/**
 * How long the emulated API's actions run. Hetzner's take longer (a second or
 * more); 0.3 s keeps the figures about natgw's own part while still charging
 * the takeover for waiting on each action.
 */
const ACTION_SECONDS = 0.3;

/** The goal for the time from a failure to egress through the standby, in every case. */
const GOAL_SECONDS = 3;

interface Kind {
  readonly name: string;
  readonly fail: (lab: Lab, active: Member) => void;
  readonly restore: (lab: Lab, member: Member) => Promise<void>;
}

const KINDS: readonly Kind[] = [
  {
    name: "keepalived killed (SIGKILL)",
    fail: (_, active) => active.crashKeepalived(),
    restore: async (_, member) => {
      member.must(["systemctl", "start", "keepalived.service"]);
      await waitFor(`${member.name} to rejoin`, 30_000, () => member.vrrpState() === "BACKUP");
    },
  },
  {
    name: "private link cut",
    fail: (lab, active) => lab.cutPrivateLink(active),
    restore: async (lab, member) => {
      await waitFor(`${member.name} to go to FAULT`, 30_000, () => member.vrrpState() === "FAULT");
      lab.restorePrivateLink(member);
      await waitFor(`${member.name} to rejoin`, 30_000, () => member.vrrpState() === "BACKUP");
    },
  },
];

const LOADS = ["idle", "every CPU saturated"] as const;

export const failoverSection: Section = {
  name: "failover",
  title: "Failover: hard failures in the network lab",
  method: `In the network lab, on examples/ha.yaml: a worker sends a UDP probe (a new flow each) every 20 ms; the active member fails, ten times for each kind of failure (NATGW_BENCH_FAILOVERS sets how many), alternating between the members: its keepalived killed with SIGKILL (no goodbye advert: the standby waits out 3 adverts and its skew), and its private link cut at the cloud's end (the data path is gone at once). Each runs with the machine otherwise idle, then with every CPU saturated by the lab's load generator (test/lab/load.ts: one busy process per CPU at normal priority, started after the idle runs and stopped at the end). Times are from the failure: the standby's keepalived reports MASTER (natgw-ctl notify has recorded it); the emulated cloud has routed the floating IP and the route to it (its API actions take ${ACTION_SECONDS} s each, shorter than Hetzner's); the first probe that left after that is answered (egress through the new member, the goal: at most ${GOAL_SECONDS} s in every case); and the longest time the worker had no answer at all (the gap). Same egress IP before and after, checked by the lab's tests.`,
  unavailable: () => labUnavailable(),
  async run(context) {
    const failovers = configuredFailovers();
    const spec = readFileSync(join(context.repository, "examples/ha.yaml"), "utf8");
    const { lab, stop } = await deployedLab(context.scratch, "ha", spec, { workers: { worker: "10.0.2.5" }, actionSeconds: ACTION_SECONDS });
    let load: CpuLoad | undefined;
    try {
      const prober = await Prober.start(lab, lab.worker("worker"));
      const results: Failover[] = [];
      for (const loaded of LOADS) {
        if (loaded !== "idle") load = await lab.saturateCpus();
        for (const kind of KINDS) {
          for (let run = 1; run <= failovers; run += 1) {
            context.progress(`${kind.name}, ${loaded}: ${run} of ${failovers}`);
            const active = await lab.settled();
            const standby = lab.members.find((member) => member !== active)!;
            results.push(await measureFailover(lab, prober, `${kind.name}, ${loaded}`, standby, () => kind.fail(lab, active)));
            await lab.settled();
            await kind.restore(lab, active);
          }
        }
      }
      const cases = LOADS.flatMap((loaded) => KINDS.map((kind) => `${kind.name}, ${loaded}`));
      return { tables: [table(results, cases, failovers)], notes: notes(results, cases) };
    } finally {
      await load?.stop();
      stop();
    }
  },
};

const seconds = (milliseconds: number) => `${(milliseconds / 1000).toFixed(2)} s`;

function table(results: readonly Failover[], cases: readonly string[], failovers: number): Table {
  const figures: { label: string; of: (failover: Failover) => number }[] = [
    { label: "MASTER", of: (failover) => failover.master },
    { label: "routed to it", of: (failover) => failover.moved },
    { label: "egress through it", of: (failover) => failover.resumed },
    { label: "gap without egress", of: (failover) => failover.gap },
  ];
  return {
    title: `Failover, seconds after the failure (median and slowest of ${failovers})`,
    columns: ["failure", ...figures.flatMap((figure) => [`${figure.label} (median)`, "(max)"])],
    rows: cases.map((name) => {
      const ofCase = results.filter((failover) => failover.case === name);
      return [name, ...figures.flatMap((figure) => [seconds(median(ofCase.map(figure.of))), seconds(Math.max(...ofCase.map(figure.of)))])];
    }),
  };
}

function notes(results: readonly Failover[], cases: readonly string[]): string[] {
  const resumed = (name: string) => results.filter((failover) => failover.case === name).map((failover) => failover.resumed);
  const worst = Math.max(...results.map((failover) => failover.resumed));
  return [
    `Egress through the standby after the failure (goal at most ${GOAL_SECONDS} s in every case): ${cases.map((name) => `${name} ${seconds(median(resumed(name)))} in the median, ${seconds(Math.max(...resumed(name)))} at most`).join("; ")}. ${worst <= GOAL_SECONDS * 1000 ? "Every failover met the goal." : `The slowest took ${seconds(worst)}: goal missed.`}`,
    `Of that, VRRP detection is about 3 adverts of 0.5 s plus the standby's skew (0.3 s); the rest is the takeover: natgw-ctl notify recording MASTER, the takeover program's start, two GETs, the floating IP assign beside the route's delete, then the route's add, each action polled every 0.1 s.`,
  ];
}
