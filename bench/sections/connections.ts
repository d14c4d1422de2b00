import type { Lab, Member } from "../../test/lab/lab.js";
import { connectionLoop, type ConnectionCount } from "../../test/lab/traffic.js";
import { BenchError, median } from "../measure.js";
import type { BenchContext, Section } from "../section.js";
import { policiesSpec } from "../specs.js";
import { formatCount, type Table } from "../table.js";
import { cpuSecondsOf, deployedLab, forwardingOnly, hostsCpuSeconds, labUnavailable, MINIMAL_NAT, minimalNat, NO_RULESET, single, withoutNatgwRuleset } from "./lab.js";

/**
 * Four workers, each holding a /22 of team 0's 10.0.16.0/20: the sources of
 * policy-1 and policy-9 (partner-1) in both specs, and, in the goal spec, inside
 * the /16 of port-block sources, where partner-1's port map gives each of them 8
 * ports. A new flow then meets the policy map and, with port blocks, the egress
 * IP's port map. A source has only 8 ports per destination and conntrack keeps a
 * closed connection 30 s (TIME_WAIT), so the workers spread their connections
 * over 4,096 sources and 8 destinations: one source and one destination would
 * measure that limit (a few connections a second, and SYNs dropped as clashes)
 * instead of the gateway.
 */
const WORKERS: Readonly<Record<string, string>> = {
  "worker-1": "10.0.16.0/22",
  "worker-2": "10.0.20.0/22",
  "worker-3": "10.0.24.0/22",
  "worker-4": "10.0.28.0/22",
};
const WORKER_SOURCES = "10.0.16.0/20";
/** policy-1's 198.18.0.0/30 and policy-9's 198.18.0.8/30, both partner-1's in either spec. */
const DESTINATIONS = ["198.18.0.0", "198.18.0.1", "198.18.0.2", "198.18.0.3", "198.18.0.8", "198.18.0.9", "198.18.0.10", "198.18.0.11"];
/** The echo service's port that answers a line and leaves the closing to the worker. */
const STREAM_PORT = 7;
const PARALLEL_PER_WORKER = 4;
const WARM_UP_MS = 2000;
const SECONDS_PER_RUN = 5;
const TIMEOUT_MS = 2000;
const PARTNER = "partner-1";

const TEN_POLICIES = "10 policies";
const GOAL = `10,000 policies + /16 of port-block sources (${formatCount(65536)})`;

/** One row: a lab, and natgw's ruleset replaced by a reference (`without`) or the member's watchdog on or off. */
interface Turn {
  readonly label: string;
  readonly lab: Lab;
  readonly watchdog?: boolean;
  readonly without?: (member: Member) => () => void;
  readonly expected: (address: string) => boolean;
}

/** One configuration's runs, and what could have held the rate down. */
interface Rate {
  readonly label: string;
  readonly perSecond: number[];
  failures: number;
  readonly reasons: Map<string, number>;
  conntrackDrops: number;
  mostEntries: number;
  readonly seen: Set<string>;
  lowestPort: number;
  highestPort: number;
  /** The member's watchdog's CPU time per second of each run (with the nft it starts), when it ran. */
  readonly watchdogLoad: number[];
  /** CPU seconds per connection of each run: the workers, and every process of the member, the cloud and the internet. */
  readonly cpuPerConnection: number[];
}

export const connectionsSection: Section = {
  name: "connections",
  title: "Connections: new TCP connections per second through a member",
  method: `In the network lab (test/lab/): four workers on the private network, each a separate process in a namespace of its own, open TCP connections to the internet side through the emulated cloud and a member running the generated files, ${PARALLEL_PER_WORKER} at a time each, as fast as they complete: connect, send a line, read the echo service's answer (the address and port the internet saw), close, then the next (test/lab/programs/connections.ts). The workers connect from 4,096 source addresses (a /22 each, inside policy-1's sources and, in the goal spec, the port-block sources) to 8 destinations of policy-1 and policy-9, every pair in turn, so each new flow is looked up in the policy map and, with port blocks, in its egress IP's port map, and no source runs out of its 8 ports to one destination. Connections count over ${SECONDS_PER_RUN} s after ${WARM_UP_MS / 1000} s of warm-up; one refused, reset or unanswered within ${TIMEOUT_MS / 1000} s is a failure, not a connection. Conntrack is flushed before each run; its drops (insert_failed, drop, early_drop) and its entries after the run are reported, as is the egress address every answer named. Both configurations run in labs of their own, deployed side by side, and take turns run by run with the references of the datapath section (forwarding without natgw's tables; conntrack and one SNAT rule) and with the goal spec once more, its member's watchdog stopped; the lab not measured keeps still (its watchdog stopped too). Beside the rate, the lab's CPU time per connection: each worker reads its own over the window (a veth hands a packet on within the sender's system call, so the member's and the cloud's work on it is mostly counted there; what the kernel defers to ksoftirqd is not), and every process of the member, the cloud and the internet is read from /proc. The CPU time the member's watchdog took, with the nft it runs, is read the same way. The member is in Single mode. The workers, the echo service (one Node process), the member and the cloud share this machine's cores, so the rate is that of the whole lab: it shows what the ruleset adds to everything else a connection costs, not what a Hetzner server sustains.`,
  unavailable: () => labUnavailable(),
  async run(context) {
    const labs: Lab[] = [];
    const stops: (() => void)[] = [];
    try {
      for (const [label, spec] of [[TEN_POLICIES, policiesSpec(10)], [GOAL, policiesSpec(10000, 16)]] as const) {
        context.progress(`lab for ${label}`);
        const { lab, stop } = await deployedLab(context.scratch, label.replace(/\W+/g, "-"), single(spec), {
          workers: Object.fromEntries(Object.entries(WORKERS).map(([name, range]) => [name, firstHost(range)])),
          internetAddresses: DESTINATIONS,
        });
        stops.push(stop);
        for (const [name, range] of Object.entries(WORKERS)) lab.addWorkerRange(name, range);
        labs.push(lab);
      }
      const [ten, goal] = labs as [Lab, Lab];
      const partner = (lab: Lab) => (address: string) => address === lab.floatingIPs.find((floatingIP) => floatingIP.name === PARTNER)!.address;
      const turns: Turn[] = [
        { label: TEN_POLICIES, lab: ten, watchdog: true, expected: partner(ten) },
        { label: NO_RULESET, lab: ten, without: forwardingOnly(ten, WORKER_SOURCES), expected: (address) => address.startsWith("10.0.") },
        { label: MINIMAL_NAT, lab: ten, without: minimalNat(ten), expected: (address) => address === ten.floatingIPs[0]!.address },
        { label: GOAL, lab: goal, watchdog: true, expected: partner(goal) },
        { label: `${GOAL}, watchdog stopped`, lab: goal, watchdog: false, expected: partner(goal) },
      ];
      const watchdogs = new Map(labs.map((lab) => [lab, true]));
      const setWatchdog = (lab: Lab, running: boolean) => {
        if (watchdogs.get(lab) !== running) lab.members[0]!.must(["systemctl", running ? "start" : "stop", "natgw-watchdog.service"]);
        watchdogs.set(lab, running);
      };
      const rates = new Map(turns.map((turn) => [turn.label, emptyRate(turn.label)]));
      for (let run = 1; run <= context.runs; run += 1) {
        for (const turn of turns) {
          context.progress(`run ${run} of ${context.runs}: ${turn.label}`);
          // The other lab keeps still: its watchdog's listing every second would take CPU from this one.
          for (const lab of labs) if (lab !== turn.lab) setWatchdog(lab, false);
          const measure = () => measureRun(turn.lab, rates.get(turn.label)!, turn.expected, turn.watchdog === true);
          if (turn.without) {
            await withoutNatgwRuleset(turn.lab, turn.without, measure);
            watchdogs.set(turn.lab, true);
          } else {
            setWatchdog(turn.lab, turn.watchdog === true);
            await measure();
          }
          const rate = rates.get(turn.label)!;
          context.progress(`  ${Math.round(rate.perSecond.at(-1)!)}/s, ${Math.round(rate.cpuPerConnection.at(-1)! * 1e6)} µs of CPU per connection`);
        }
      }
      return report([...rates.values()], context);
    } finally {
      for (const stop of stops.reverse()) stop();
    }
  },
};

function firstHost(range: string): string {
  return range.replace(/\.0\/\d+$/, ".1");
}

function emptyRate(label: string): Rate {
  return { label, perSecond: [], failures: 0, reasons: new Map(), conntrackDrops: 0, mostEntries: 0, seen: new Set(), lowestPort: Infinity, highestPort: -Infinity, watchdogLoad: [], cpuPerConnection: [] };
}

/**
 * One run: every worker connects in a loop over the same window. `expected`
 * says which egress address an answer may name; any other means the flows did
 * not take the path this configuration measures. With `watchdog`, the CPU time
 * the member's watchdog took over the run is kept too.
 */
async function measureRun(lab: Lab, rate: Rate, expected: (address: string) => boolean, watchdog: boolean): Promise<void> {
  const member = lab.members[0]!;
  const hosts = [member, lab.cloud, lab.internet];
  member.must(["conntrack", "--flush"]);
  const before = conntrackDrops(member);
  const watchdogBefore = watchdogCpuSeconds(member);
  const started = performance.now();
  const countFrom = Date.now() + WARM_UP_MS;
  // The workers read their own CPU time over the window; the rest of the lab's is read here when it opens.
  let hostsAtStart = hostsCpuSeconds(hosts);
  const opening = setTimeout(() => (hostsAtStart = hostsCpuSeconds(hosts)), WARM_UP_MS);
  const counts = await Promise.all(
    Object.entries(WORKERS).map(([name, sources]) =>
      connectionLoop(lab, lab.worker(name), { destinations: DESTINATIONS, port: STREAM_PORT, sources, parallel: PARALLEL_PER_WORKER, countFrom, milliseconds: SECONDS_PER_RUN * 1000, timeoutMs: TIMEOUT_MS }),
    ),
  ).catch((error: Error) => {
    clearTimeout(opening);
    throw new BenchError(error.message);
  });
  const hostsCpu = hostsCpuSeconds(hosts) - hostsAtStart;
  if (watchdog) rate.watchdogLoad.push((watchdogCpuSeconds(member) - watchdogBefore) / ((performance.now() - started) / 1000));
  rate.mostEntries = Math.max(rate.mostEntries, Number(member.must(["conntrack", "--count"]).trim()));
  rate.conntrackDrops += conntrackDrops(member) - before;
  const late = counts.filter((count) => count.started > countFrom);
  if (late.length > 0) throw new BenchError(`${late.length} worker(s) started after the counting began: the machine is too busy for a ${WARM_UP_MS} ms warm-up`);
  const connections = sum(counts.map((count) => count.connections));
  rate.perSecond.push(connections / SECONDS_PER_RUN);
  rate.cpuPerConnection.push((sum(counts.map((count) => count.cpuMicroseconds)) / 1e6 + hostsCpu) / connections);
  for (const count of counts) addCount(rate, count, expected);
}

/** CPU seconds the member's watchdog took so far, with the nft it runs every second. */
function watchdogCpuSeconds(member: Member): number {
  return cpuSecondsOf(member.pidsOf("watchdog"));
}

function addCount(rate: Rate, count: ConnectionCount, expected: (address: string) => boolean): void {
  rate.failures += count.failures;
  for (const [reason, times] of Object.entries(count.reasons)) rate.reasons.set(reason, (rate.reasons.get(reason) ?? 0) + times);
  const unexpected = Object.keys(count.seen).filter((address) => !expected(address));
  if (unexpected.length > 0) throw new BenchError(`${rate.label}: the internet saw connections from ${unexpected.slice(0, 3).join(", ")}, not the egress address this configuration measures`);
  for (const address of Object.keys(count.seen)) rate.seen.add(address);
  if (count.ports.length === 2) {
    rate.lowestPort = Math.min(rate.lowestPort, count.ports[0]!);
    rate.highestPort = Math.max(rate.highestPort, count.ports[1]!);
  }
}

/**
 * Packets conntrack dropped in the member's namespace, over all CPUs: a clash it
 * could not resolve (insert_failed; with port blocks, no free port in a source's
 * block), a full table (drop), entries evicted to make room (early_drop).
 */
function conntrackDrops(member: Member): number {
  const statistics = member.must(["conntrack", "--stats"]);
  let total = 0;
  for (const match of statistics.matchAll(/\b(insert_failed|drop|early_drop)=(\d+)/g)) total += Number(match[2]);
  return total;
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

function report(rates: readonly Rate[], context: BenchContext) {
  const perSecond = (value: number) => `${formatCount(Math.round(value))}/s`;
  const microseconds = (seconds: number) => `${Math.round(seconds * 1e6)} µs`;
  const share = (load: number) => `${Math.round(load * 100)} % of a CPU`;
  const byLabel = (label: string) => rates.find((rate) => rate.label === label)!;
  const tenPolicies = median(byLabel(TEN_POLICIES).perSecond);
  const seenAs = (rate: Rate) => {
    const addresses = rate.seen.size > 4 ? `${formatCount(rate.seen.size)} worker addresses` : [...rate.seen].join(", ");
    return rate.highestPort < 0 ? addresses : `${addresses}, ports ${rate.lowestPort}–${rate.highestPort}`;
  };
  const failures = (rate: Rate) =>
    rate.failures === 0 ? "0" : `${formatCount(rate.failures)} (${[...rate.reasons].map(([reason, times]) => `${reason} ${formatCount(times)}`).join(", ")})`;
  const table: Table = {
    title: `New TCP connections per second, 4 workers through one member (median of ${context.runs} runs of ${SECONDS_PER_RUN} s)`,
    columns: ["configuration", "median", "slowest – fastest", "÷ 10 policies", "lab CPU per connection", "failed", "conntrack drops", "conntrack entries after a run", "the internet saw", "member's watchdog"],
    rows: rates.map((rate) => {
      const value = median(rate.perSecond);
      return [
        rate.label,
        perSecond(value),
        `${perSecond(Math.min(...rate.perSecond))} – ${perSecond(Math.max(...rate.perSecond))}`,
        (value / tenPolicies).toFixed(2),
        microseconds(median(rate.cpuPerConnection)),
        failures(rate),
        formatCount(rate.conntrackDrops),
        `${formatCount(rate.mostEntries)} at most`,
        seenAs(rate),
        rate.watchdogLoad.length > 0 ? share(median(rate.watchdogLoad)) : "stopped",
      ];
    }),
  };
  const cost = (label: string) => (tenPolicies / median(byLabel(label).perSecond)).toFixed(2);
  const cpuCost = (label: string) => (median(byLabel(label).cpuPerConnection) / median(byLabel(TEN_POLICIES).cpuPerConnection)).toFixed(2);
  const watchdog = (label: string) => share(median(byLabel(label).watchdogLoad));
  const stopped = `${GOAL}, watchdog stopped`;
  const notes = [
    `10,000 policies with a /16 of port-block sources against 10 policies: a cost of ${cost(GOAL)} per new connection (goal at most 1.10), ${cpuCost(GOAL)} in the lab's CPU time per connection; with the goal spec's watchdog stopped, ${cost(stopped)} and ${cpuCost(stopped)}. The watchdog took ${watchdog(GOAL)} with the goal spec and ${watchdog(TEN_POLICIES)} with 10 policies: every second it runs \`nft list chains\`, which fetches no set (\`nft list tables\`, which it ran before, had nft 1.0.6 fetch every set with its elements, 86,920 in the goal spec, and took a third of a CPU). The full ruleset with 10 policies against forwarding without natgw's tables: ${(tenPolicies / median(byLabel(NO_RULESET).perSecond)).toFixed(2)} of the rate; against connection tracking with one SNAT rule: ${(tenPolicies / median(byLabel(MINIMAL_NAT).perSecond)).toFixed(2)}. Both the rate and the CPU time per connection move with other work on the machine: a busy machine also takes more CPU per connection.`,
  ];
  return { tables: [table], notes };
}
