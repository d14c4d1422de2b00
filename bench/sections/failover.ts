import { readFileSync } from "node:fs";
import { join } from "node:path";
import { waitFor, type Member } from "../../test/lab/lab.js";
import { measureFailover, Prober, type Failover } from "../../test/lab/traffic.js";
import { median, wholeNumberSetting } from "../measure.js";
import type { Section } from "../section.js";
import type { Table } from "../table.js";
import { deployedLab, labUnavailable } from "./lab.js";

/** Failovers of each kind; NATGW_BENCH_FAILOVERS overrides the ten. */
const configuredFailovers = () => wholeNumberSetting("NATGW_BENCH_FAILOVERS", 10, 100);

export const failoverSection: Section = {
  name: "failover",
  title: "Failover: hard failures in the network lab",
  method: `In the network lab, on examples/ha.yaml: a worker sends a UDP probe (a new flow each) every 20 ms; the active member fails, ten times for each kind of failure (NATGW_BENCH_FAILOVERS sets how many), alternating between the members: its keepalived killed with SIGKILL (no goodbye advert: the standby waits out 3 adverts and its skew), and its private link cut at the cloud's end (the data path is gone at once). Times are from the failure: the standby's keepalived reports MASTER; the emulated cloud has routed the floating IP and the route to it (its API actions take 0.2 s each, shorter than Hetzner's); the first probe that left after that is answered (egress through the new member); and the longest time the worker had no answer at all (the gap). Same egress IP before and after, checked by the lab's tests.`,
  unavailable: () => labUnavailable(),
  async run(context) {
    const failovers = configuredFailovers();
    const spec = readFileSync(join(context.repository, "examples/ha.yaml"), "utf8");
    const { lab, stop } = await deployedLab(context.scratch, "ha", spec, { workers: { worker: "10.0.2.5" } });
    try {
      const prober = await Prober.start(lab, lab.worker("worker"));
      const results: Failover[] = [];
      const kinds: { name: string; fail: (active: Member) => void; restore: (member: Member) => Promise<void> }[] = [
        {
          name: "keepalived killed (SIGKILL)",
          fail: (active) => active.crashKeepalived(),
          restore: async (member) => {
            member.must(["systemctl", "start", "keepalived.service"]);
            await waitFor(`${member.name} to rejoin`, 15_000, () => member.vrrpState() === "BACKUP");
          },
        },
        {
          name: "private link cut",
          fail: (active) => lab.cutPrivateLink(active),
          restore: async (member) => {
            await waitFor(`${member.name} to go to FAULT`, 15_000, () => member.vrrpState() === "FAULT");
            lab.restorePrivateLink(member);
            await waitFor(`${member.name} to rejoin`, 15_000, () => member.vrrpState() === "BACKUP");
          },
        },
      ];
      for (const kind of kinds) {
        for (let run = 1; run <= failovers; run += 1) {
          context.progress(`${kind.name}: ${run} of ${failovers}`);
          const active = await lab.settled();
          const standby = lab.members.find((member) => member !== active)!;
          results.push(await measureFailover(lab, prober, kind.name, standby, () => kind.fail(active)));
          await lab.settled();
          await kind.restore(active);
        }
      }
      return { tables: [table(results, kinds.map((kind) => kind.name), failovers)], notes: notes(results) };
    } finally {
      stop();
    }
  },
};

const seconds = (milliseconds: number) => `${(milliseconds / 1000).toFixed(2)} s`;

function table(results: readonly Failover[], kinds: readonly string[], failovers: number): Table {
  const figures: { label: string; of: (failover: Failover) => number }[] = [
    { label: "MASTER", of: (failover) => failover.master },
    { label: "routed to it", of: (failover) => failover.moved },
    { label: "egress through it", of: (failover) => failover.resumed },
    { label: "gap without egress", of: (failover) => failover.gap },
  ];
  return {
    title: `Failover, seconds after the failure (median and slowest of ${failovers})`,
    columns: ["failure", ...figures.flatMap((figure) => [`${figure.label} (median)`, "(max)"])],
    rows: kinds.map((kind) => {
      const ofKind = results.filter((failover) => failover.case === kind);
      return [kind, ...figures.flatMap((figure) => [seconds(median(ofKind.map(figure.of))), seconds(Math.max(...ofKind.map(figure.of)))])];
    }),
  };
}

function notes(results: readonly Failover[]): string[] {
  const hard = results.filter((failover) => failover.case === "private link cut").map((failover) => failover.gap);
  const killed = results.filter((failover) => failover.case === "keepalived killed (SIGKILL)").map((failover) => failover.resumed);
  return [
    `A hard failure left the worker without egress for ${seconds(median(hard))} in the median, ${seconds(Math.max(...hard))} at most (goal under 3 s); after keepalived was killed, egress ran through the standby ${seconds(median(killed))} later in the median. Of that, VRRP detection is about 3 adverts of 0.5 s plus the standby's skew (0.3 s); the rest is the takeover: natgw-ctl's start, two GETs, the floating IP assign beside the route's delete, then the route's add, each action polled from 0.05 s on.`,
  ];
}
