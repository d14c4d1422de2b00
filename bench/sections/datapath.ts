import type { Host } from "../../test/lab/lab.js";
import { BenchError, median } from "../measure.js";
import type { BenchContext, Section } from "../section.js";
import { policiesSpec, portBlocksSpec } from "../specs.js";
import { formatCount, type Table } from "../table.js";
import { deployedLab, forwardingOnly, labUnavailable, MINIMAL_NAT, minimalNat, NO_RULESET, single, withoutNatgwRuleset } from "./lab.js";

/**
 * The worker sends to a partner endpoint that policy-1 matches (partner-1's
 * first destination, 198.18.0.0/30), from inside team 0's sources: with
 * policies, every flow is looked up against all of them.
 */
const WORKER = "10.0.16.10";
const ENDPOINT = "198.18.0.1";
const SECONDS_PER_RUN = 5;

interface Configuration {
  readonly label: string;
  readonly spec: () => string;
}

interface Throughput {
  readonly label: string;
  readonly runs: number[];
}

export const datapathSection: Section = {
  name: "datapath",
  title: "Data path: TCP throughput through a member",
  method: `In the network lab (test/lab/): iperf3 sends TCP for ${SECONDS_PER_RUN} s (after a 1 s warm-up that is not counted) from a worker on the private network to an iperf3 server on the internet side, through the emulated cloud and a member running the generated files. The baseline is the same namespaces with forwarding on and none of natgw's tables (the ruleset unit and the watchdog stopped, the baseline table deleted; the cloud routes the worker's unNATed address back), and a second reference is connection tracking with one SNAT rule in place of natgw's ruleset, the least any stateful NAT needs; both are measured in the same lab, taking turns with the full ruleset run by run. The member is in Single mode, so stopping its ruleset hands nothing to a standby. The figure is the median receiver throughput; a ratio above 1 for the ruleset means it cost nothing measurable. Every member, worker and the internet share this machine's cores, so the absolute figures say more about the machine than about Hetzner's network.`,
  unavailable: () => labUnavailable("iperf3"),
  async run(context) {
    const rows: Throughput[] = [];
    const measured = async (configuration: Configuration, baseline: boolean) => {
      context.progress(`lab for ${configuration.label}`);
      const { lab, stop } = await deployedLab(context.scratch, configuration.label.replace(/\W+/g, "-"), configuration.spec(), {
        workers: { worker: WORKER },
        internetAddresses: [ENDPOINT],
      });
      try {
        lab.internet.must(["iperf3", "--server", "--daemon", "--bind", ENDPOINT]);
        const full: number[] = [];
        const none: number[] = [];
        const minimal: number[] = [];
        const worker = lab.worker("worker");
        for (let run = 1; run <= context.runs; run += 1) {
          context.progress(`${configuration.label}: run ${run} of ${context.runs}`);
          full.push(iperf(worker));
          if (!baseline) continue;
          none.push(await withoutNatgwRuleset(lab, forwardingOnly(lab, `${WORKER}/32`), () => iperf(worker)));
          minimal.push(await withoutNatgwRuleset(lab, minimalNat(lab), () => iperf(worker)));
        }
        rows.push({ label: configuration.label, runs: full });
        if (baseline) rows.push({ label: NO_RULESET, runs: none }, { label: MINIMAL_NAT, runs: minimal });
      } finally {
        stop();
      }
    };
    await measured({ label: "10 policies", spec: () => single(policiesSpec(10)) }, true);
    await measured({ label: "10,000 policies", spec: () => single(policiesSpec(10000)) }, false);
    await measured({ label: `/16 of port-block sources (${formatCount(65536)})`, spec: () => single(portBlocksSpec(16)) }, false);
    return report(rows, context);
  },
};

/** Receiver throughput of one iperf3 run from the worker, in bits per second. */
function iperf(worker: Host): number {
  const result = worker.exec(["iperf3", "--client", ENDPOINT, "--time", String(SECONDS_PER_RUN), "--omit", "1", "--json"]);
  if (result.status !== 0) throw new BenchError(`iperf3 failed: ${result.stdout.slice(0, 500)}${result.stderr}`);
  const json = JSON.parse(result.stdout) as { error?: string; end: { sum_received?: { bits_per_second: number } } };
  if (!json.end.sum_received) throw new BenchError(`iperf3 measured nothing: ${json.error ?? "no error given"}`);
  return json.end.sum_received.bits_per_second;
}

function report(rows: readonly Throughput[], context: BenchContext) {
  const gbits = (bits: number) => `${(bits / 1e9).toFixed(2)} Gbit/s`;
  const medianOf = (label: string) => median(rows.find((row) => row.label === label)!.runs);
  const baseline = medianOf(NO_RULESET);
  const minimal = medianOf(MINIMAL_NAT);
  const tenPolicies = medianOf("10 policies");
  const table: Table = {
    title: `TCP throughput, worker to internet through one member (median of ${context.runs} runs of ${SECONDS_PER_RUN} s)`,
    columns: ["configuration", "median", "slowest", "fastest", "vs no ruleset", "vs minimal NAT", "vs 10 policies"],
    rows: rows.map((row) => {
      const value = median(row.runs);
      const ratio = (reference: number) => (value / reference).toFixed(2);
      return [row.label, gbits(value), gbits(Math.min(...row.runs)), gbits(Math.max(...row.runs)), ratio(baseline), ratio(minimal), ratio(tenPolicies)];
    }),
  };
  const cost = tenPolicies / medianOf("10,000 policies");
  const notes = [
    `Full ruleset against forwarding without one: ${(tenPolicies / baseline).toFixed(2)} of the throughput (goal at least 0.90); against connection tracking with a single SNAT rule, the least any stateful NAT needs: ${(tenPolicies / minimal).toFixed(2)}. 10,000 policies against 10: a cost of ${cost.toFixed(2)} (goal at most 1.10). The ruleset decides a flow's egress IP on its first packet; conntrack carries the rest, so the policy count weighs on new connections, not on a connection's throughput.`,
  ];
  return { tables: [table], notes };
}
