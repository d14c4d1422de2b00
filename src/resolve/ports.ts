import { count, oneOf, quote } from "../diagnostics/quote.js";
import { FIRST_SNAT_PORT, LAST_SNAT_PORT, SNAT_PORTS } from "./hetzner.js";
import { schemaAt } from "../spec/schema.js";
import type { GatewayInput } from "./inputs.js";
import { mergeRanges, numberToAddress, size, subtractRanges, takeAddresses, totalSize, type Ipv4Range } from "./ip.js";
import type { PortBlocksModel, PortSegmentModel } from "./model.js";
import type { BoundPolicy } from "./policies.js";
import type { Reporter } from "./reporter.js";

const SMALLEST_BLOCK = 8;
const MAX_EGRESS_IPS = schemaAt("NatGatewaySpec", "egressIPs").maxItems as number;

/**
 * Allocates the fixed SNAT port blocks of `portsPerSource` (Ironcore's model: a
 * power-of-two block per source IP on each egress IP that serves it).
 *
 *   - An egress IP a policy names holds a block for every source of the policies
 *     naming it, so a partner always sees that IP.
 *   - Default traffic leaves from the default pool: the first egress IP, then the
 *     egress IPs no policy names, in spec order. Sources fill the pool from the
 *     lowest address up; a source the first egress IP already serves for a policy
 *     keeps that block for its default traffic too.
 *
 * Blocks on one egress IP follow source address order from port 1024:
 *
 *     egress IP "primary", 2048 ports:  10.0.1.0 1024-3071 | 10.0.1.1 3072-5119 | … (31 sources)
 */
export function allocatePortBlocks(
  gateway: GatewayInput,
  policies: readonly BoundPolicy[],
  reporter: Reporter,
): PortBlocksModel | null | undefined {
  const portsPerSource = gateway.settings.portsPerSource;
  if (portsPerSource === null) return null;
  const perEgressIP = Math.floor(SNAT_PORTS / portsPerSource);
  const egressIPs = gateway.settings.egressIPs.map((egressIP) => egressIP.name);
  const sources = mergeRanges(gateway.sources.map((source) => source.value));

  const named = new Map<string, { policies: string[]; sources: Ipv4Range[] }>();
  for (const policy of policies) {
    const entry = named.get(policy.egressIP) ?? { policies: [], sources: [] };
    entry.policies.push(policy.input.name);
    entry.sources.push(...policy.input.sources.map((source) => source.value));
    named.set(policy.egressIP, entry);
  }
  const served = new Map<string, Ipv4Range[]>();
  let failed = false;
  for (const [egressIP, entry] of named) {
    const demand = mergeRanges(entry.sources);
    served.set(egressIP, demand);
    const needed = totalSize(demand);
    if (needed > perEgressIP) {
      failed = true;
      const smaller = largestFittingBlock(needed);
      const names = entry.policies.sort().map((p) => quote(p));
      const whose = `${names.length === 1 ? "policy" : "policies"} ${oneOf(names, "and")}`;
      const sourcesOf = names.length === 1 ? "policy's sources" : "policies' sources";
      reporter.report(
        "portsDoNotFit",
        {
          detail: `egress IP ${quote(egressIP)} serves ${count(needed)} source addresses of ${whose} at ${count(portsPerSource)} ports each, ${count(needed * portsPerSource)} ports; one egress IP holds ${count(SNAT_PORTS)}`,
          fix: smaller
            ? `use portsPerSource ${smaller}, or narrow the ${sourcesOf} to ${count(perEgressIP)} addresses`
            : `narrow the ${sourcesOf} to ${count(perEgressIP)} addresses`,
        },
        gateway.document,
        "/spec/portsPerSource",
      );
    }
  }

  const first = egressIPs[0]!;
  const pool = egressIPs.filter((name, index) => index === 0 || !named.has(name));
  const firstServes = served.get(first) ?? [];
  let waiting = subtractRanges(sources, firstServes);
  const capacity = new Map(pool.map((name) => [name, perEgressIP - totalSize(served.get(name) ?? [])]));
  for (const name of pool) {
    const [taken, rest] = takeAddresses(waiting, Math.max(0, capacity.get(name)!));
    served.set(name, mergeRanges([...(served.get(name) ?? []), ...taken]));
    waiting = rest;
  }
  const unplaced = totalSize(waiting);
  if (unplaced > 0) {
    failed = true;
    const needed = totalSize(sources);
    const held = pool.length === 1 ? "holds" : "hold";
    reporter.report(
      "portsDoNotFit",
      {
        detail: `sources need ${count(needed)} blocks of ${count(portsPerSource)} ports, ${count(needed * portsPerSource)} ports; the ${pool.length === 1 ? "default egress IP" : `${pool.length} default egress IPs`} (${pool.map((p) => quote(p)).join(", ")}) ${held} ${count(pool.length * perEgressIP)} blocks, ${count(pool.length * perEgressIP * portsPerSource)} ports`,
        fix: poolFixes({
          defaultSources: needed,
          poolSize: pool.length,
          egressIPCount: egressIPs.length,
          policyDemands: [...named.entries()].filter(([name]) => name !== first).map(([, entry]) => totalSize(mergeRanges(entry.sources))),
          portsPerSource,
        }),
      },
      gateway.document,
      "/spec/portsPerSource",
    );
  }
  if (failed) return undefined;

  const segments: PortSegmentModel[] = [];
  for (const name of egressIPs) {
    const ranges = served.get(name) ?? [];
    let port = FIRST_SNAT_PORT;
    for (const range of ranges) {
      segments.push({
        egressIP: name,
        firstSource: numberToAddress(range.first),
        lastSource: numberToAddress(range.last),
        firstPort: port,
        defaultTraffic: pool.includes(name),
      });
      port += size(range) * portsPerSource;
    }
  }
  return { portsPerSource, firstPort: FIRST_SNAT_PORT, lastPort: LAST_SNAT_PORT, blocksPerEgressIP: perEgressIP, segments };
}

/** The largest power-of-two block with which `sources` addresses fit on one egress IP. */
function largestFittingBlock(sources: number): number | undefined {
  for (let block = 32768; block >= SMALLEST_BLOCK; block /= 2) {
    if (sources * block <= SNAT_PORTS) return block;
  }
  return undefined;
}

interface PoolDemand {
  /** Sources whose default traffic needs a block in the pool: all of them. */
  readonly defaultSources: number;
  readonly poolSize: number;
  readonly egressIPCount: number;
  /** Sources per egress IP that policies name, other than the first. */
  readonly policyDemands: readonly number[];
  readonly portsPerSource: number;
}

/**
 * What would make the default traffic fit, in the order a user would try it: more
 * egress IPs (within the schema's limit), a smaller block, or both.
 */
function poolFixes(demand: PoolDemand): string {
  const moreIPsAt = (block: number) => {
    const perEgressIP = Math.floor(SNAT_PORTS / block);
    if (demand.policyDemands.some((sources) => sources > perEgressIP)) return undefined;
    return Math.max(0, Math.ceil(demand.defaultSources / perEgressIP) - demand.poolSize);
  };
  const fits = (more: number | undefined) => more !== undefined && demand.egressIPCount + more <= MAX_EGRESS_IPS;
  const fixes: string[] = [];
  const more = moreIPsAt(demand.portsPerSource);
  if (fits(more)) fixes.push(`add ${count(more!)} egress IP${more === 1 ? "" : "s"} that no policy names`);
  let smallerAlone: number | undefined;
  for (let block = demand.portsPerSource / 2; block >= SMALLEST_BLOCK; block /= 2) {
    if (moreIPsAt(block) === 0) {
      smallerAlone = block;
      break;
    }
  }
  if (smallerAlone) fixes.push(`use portsPerSource ${smallerAlone}`);
  if (fixes.length === 0) {
    // Floating IPs cost money and are capped per project: the fewest egress IPs
    // (smallest block), then the largest block that still needs no more than that.
    const fewest = moreIPsAt(SMALLEST_BLOCK);
    if (fits(fewest)) {
      let block = SMALLEST_BLOCK;
      while (block * 2 < demand.portsPerSource && moreIPsAt(block * 2) === fewest) block *= 2;
      fixes.push(`use portsPerSource ${block} and add ${count(fewest!)} egress IP${fewest === 1 ? "" : "s"} that no policy names`);
    }
  }
  if (fixes.length === 0) fixes.push(`narrow the sources: even ${SMALLEST_BLOCK} ports each on ${MAX_EGRESS_IPS} egress IPs do not hold them`);
  return fixes.join(", or ");
}
