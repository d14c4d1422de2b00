import { count, oneOf, quote } from "../diagnostics/quote.js";
import { FIRST_SNAT_PORT, LAST_SNAT_PORT, SNAT_PORTS } from "./hetzner.js";
import type { GatewayInput } from "./inputs.js";
import { mergeRanges, numberToAddress, size, subtractRanges, takeAddresses, totalSize, type Ipv4Range } from "./ip.js";
import type { PortBlocksModel, PortSegmentModel } from "./model.js";
import type { BoundPolicy } from "./policies.js";
import type { Reporter } from "./reporter.js";

const SMALLEST_BLOCK = 8;

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
      reporter.report(
        "portsDoNotFit",
        {
          detail: `egress IP ${quote(egressIP)} serves ${count(needed)} source addresses of ${oneOf(entry.policies.sort().map((p) => quote(p)), "and")} at ${count(portsPerSource)} ports each, ${count(needed * portsPerSource)} ports; one egress IP holds ${count(SNAT_PORTS)}`,
          fix: smaller
            ? `use portsPerSource ${smaller}, or narrow the policies' sources to ${count(perEgressIP)} addresses`
            : `narrow the policies' sources to ${count(perEgressIP)} addresses`,
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
    const moreIPs = Math.ceil(unplaced / perEgressIP);
    const smaller = largestFittingPoolBlock(totalSize(subtractRanges(sources, firstServes)), totalSize(firstServes), pool.length, named, portsPerSource);
    reporter.report(
      "portsDoNotFit",
      {
        detail: `sources need ${count(needed)} blocks of ${count(portsPerSource)} ports, ${count(needed * portsPerSource)} ports; the ${pool.length === 1 ? "default egress IP" : `${pool.length} default egress IPs`} (${pool.map((p) => quote(p)).join(", ")}) ${pool.length === 1 ? "holds" : "hold"} ${count(pool.length * perEgressIP)} blocks, ${count(pool.length * perEgressIP * portsPerSource)} ports`,
        fix: `add ${moreIPs} egress IP${moreIPs === 1 ? "" : "s"} that no policy names${smaller ? `, or use portsPerSource ${smaller}` : ""}`,
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

/** The largest smaller block with which both the policies' egress IPs and the default pool fit. */
function largestFittingPoolBlock(
  defaultSources: number,
  firstPolicySources: number,
  poolSize: number,
  named: ReadonlyMap<string, { sources: Ipv4Range[] }>,
  current: number,
): number | undefined {
  const demands = [...named.values()].map((entry) => totalSize(mergeRanges(entry.sources)));
  for (let block = current / 2; block >= SMALLEST_BLOCK; block /= 2) {
    const perEgressIP = Math.floor(SNAT_PORTS / block);
    if (demands.some((demand) => demand > perEgressIP)) continue;
    if (defaultSources <= poolSize * perEgressIP - firstPolicySources) return block;
  }
  return undefined;
}
