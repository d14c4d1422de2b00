import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileSources } from "../src/compile.js";
import { diagnose } from "../src/diagnostics/catalogue.js";
import { quote } from "../src/diagnostics/quote.js";
import { policyElements } from "../src/emit/hosts/nftables.js";
import { cidr, compareRanges, formatRange, mergeRanges, numberToAddress, overlaps, type Cidr, type Ipv4Range } from "../src/resolve/ip.js";
import type { GatewayModel } from "../src/resolve/model.js";
import { compareText } from "../src/util/order.js";

// The conflict check and the policy map index policies instead of comparing them
// pairwise; on many overlapping policies both must give exactly what the pairwise
// definitions below give.

const EGRESS_IPS = ["primary", "partner-a", "partner-b", "partner-c"];

interface GeneratedPolicy {
  readonly name: string;
  readonly egressIP: string;
  readonly sources: readonly string[];
  readonly destinations: readonly string[];
}

/** A CIDR of `prefixLength` inside `base`, at a chosen offset: narrow ranges make overlaps likely. */
const cidrIn = (base: string, minimum: number, maximum: number) =>
  fc.tuple(fc.integer({ min: minimum, max: maximum }), fc.nat()).map(([prefixLength, offset]) => {
    const range = cidr(base);
    const size = 2 ** (32 - prefixLength);
    const first = range.first + ((offset * size) % (range.last - range.first + 1));
    return `${numberToAddress(first)}/${prefixLength}`;
  });

/** Destinations of one egress IP: a /22 of its own when `separate`, else one shared by all. */
function destinationBase(egressIP: string, separate: boolean): string {
  return separate ? `203.0.${112 + 4 * EGRESS_IPS.indexOf(egressIP)}.0/22` : "198.51.100.0/22";
}

const policies = (separateDestinations: boolean) =>
  fc
    .array(
      fc.constantFrom(...EGRESS_IPS).chain((egressIP) =>
        fc.record({
          egressIP: fc.constant(egressIP),
          sources: fc.uniqueArray(cidrIn("10.0.0.0/20", 20, 28), { minLength: 1, maxLength: 3 }),
          destinations: fc.uniqueArray(cidrIn(destinationBase(egressIP, separateDestinations), 22, 30), { minLength: 1, maxLength: 3 }),
        }),
      ),
      { minLength: 2, maxLength: 60 },
    )
    .map((list) => list.map((policy, index): GeneratedPolicy => ({ name: `policy-${index}`, ...policy })));

/** Each document in a file of its own, named after it, so a diagnostic's file names its policy. */
function compilePolicies(list: readonly GeneratedPolicy[]) {
  const gateway = `apiVersion: natgw.dev/v1alpha1
kind: NatGateway
metadata: { name: overlap-egress }
spec:
  location: fsn1
  network: { id: 4711, ipRange: 10.0.0.0/16, subnet: 10.0.1.0/24 }
  egressIPs: [${EGRESS_IPS.map((name) => `{ name: ${name} }`).join(", ")}]
  members: { sshKeys: [ops] }
  security: { sshAllowedCIDRs: [198.51.100.7/32] }
`;
  const documents = list.map((policy) => ({
    path: `${policy.name}.yaml`,
    text: `apiVersion: natgw.dev/v1alpha1
kind: EgressNATPolicy
metadata: { name: ${policy.name} }
spec:
  sources: [${policy.sources.map((source) => `{ cidr: ${source} }`).join(", ")}]
  destinations: [${policy.destinations.map((destination) => `{ cidr: ${destination} }`).join(", ")}]
  gatewayRef: { name: overlap-egress }
  egressIP: ${policy.egressIP}
`,
  }));
  return compileSources([{ path: "gateway.yaml", text: gateway }, ...documents]);
}

interface Rectangle {
  readonly policy: GeneratedPolicy;
  readonly source: Cidr;
  readonly destination: Cidr;
  readonly destinationIndex: number;
}

/**
 * Every pair of rectangles, in source order and then the order met: a pair of
 * policies naming different egress IPs conflicts at its first pair overlapping in
 * both axes, reported at the later policy in name order.
 */
function pairwiseConflicts(list: readonly GeneratedPolicy[]): string[] {
  const rectangles: Rectangle[] = [...list]
    .sort((a, b) => compareText(a.name, b.name))
    .flatMap((policy) =>
      policy.sources.flatMap((source) =>
        policy.destinations.map((destination, destinationIndex) => ({ policy, source: cidr(source), destination: cidr(destination), destinationIndex })),
      ),
    )
    .sort((a, b) => a.source.first - b.source.first);
  const reported = new Set<string>();
  const found: string[] = [];
  rectangles.forEach((current, index) => {
    for (const other of rectangles.slice(0, index)) {
      if (other.policy.egressIP === current.policy.egressIP) continue;
      if (!overlaps(other.source, current.source) || !overlaps(other.destination, current.destination)) continue;
      const [earlier, later] = compareText(other.policy.name, current.policy.name) < 0 ? [other, current] : [current, other];
      const pair = `${earlier.policy.name} ${later.policy.name}`;
      if (reported.has(pair)) continue;
      reported.add(pair);
      const within = (a: Ipv4Range, b: Ipv4Range) => formatRange({ first: Math.max(a.first, b.first), last: Math.min(a.last, b.last) });
      const pointer = `/spec/destinations/${later.destinationIndex}/cidr`;
      const diagnostic = diagnose(
        "policyConflict",
        {
          policy: quote(later.policy.name),
          egressIP: quote(later.policy.egressIP),
          other: quote(earlier.policy.name),
          otherEgressIP: quote(earlier.policy.egressIP),
          example: `${within(earlier.source, later.source)} to ${within(earlier.destination, later.destination)}`,
        },
        { file: `${later.policy.name}.yaml`, line: 1, column: 1, pointer },
      );
      found.push(`${diagnostic.file} ${pointer} ${diagnostic.message}`);
    }
  });
  return found.sort();
}

/** For every piece between two source boundaries, the merged destinations of every rectangle covering it. */
function pairwiseElements(gateway: GatewayModel): { source: string; destination: string; chain: string }[] {
  const elements: { source: Ipv4Range; destination: Ipv4Range; chain: string }[] = [];
  for (const egressIP of gateway.egressIPs) {
    const rectangles = gateway.policies
      .filter((policy) => policy.egressIP === egressIP.name)
      .flatMap((policy) => policy.sources.flatMap((source) => policy.destinations.map((destination) => ({ source: cidr(source), destination: cidr(destination) }))));
    const cuts = [...new Set(rectangles.flatMap(({ source }) => [source.first, source.last + 1]))].sort((a, b) => a - b);
    const pieces: { source: { first: number; last: number }; destinations: Ipv4Range[] }[] = [];
    for (let index = 0; index + 1 < cuts.length; index += 1) {
      const source = { first: cuts[index]!, last: cuts[index + 1]! - 1 };
      const destinations = mergeRanges(rectangles.filter((rectangle) => rectangle.source.first <= source.first && source.last <= rectangle.source.last).map((rectangle) => rectangle.destination));
      if (destinations.length === 0) continue;
      const previous = pieces[pieces.length - 1];
      if (previous && JSON.stringify(previous.destinations) === JSON.stringify(destinations) && previous.source.last + 1 === source.first) previous.source.last = source.last;
      else pieces.push({ source, destinations });
    }
    const chain = `snat_${egressIP.name.replace(/-/g, "_")}`;
    for (const piece of pieces) for (const destination of piece.destinations) elements.push({ source: piece.source, destination, chain });
  }
  return elements
    .sort((a, b) => compareRanges(a.source, b.source) || compareRanges(a.destination, b.destination))
    .map(({ source, destination, chain }) => ({ source: formatRange(source), destination: formatRange(destination), chain }));
}

describe("many overlapping policies", () => {
  it("conflict: every pair of policies to different egress IPs that share a flow is reported once, at the pair and example the pairwise definition gives", () => {
    let conflicts = 0;
    fc.assert(
      fc.property(policies(false), (list) => {
        const expected = pairwiseConflicts(list);
        conflicts += expected.length;
        const found = compilePolicies(list)
          .diagnostics.filter((diagnostic) => diagnostic.code === "NATGW504")
          .map((diagnostic) => `${diagnostic.file} ${diagnostic.pointer} ${diagnostic.message}`)
          .sort();
        expect(found).toEqual(expected);
      }),
      { seed: 4711, numRuns: 200 },
    );
    expect(conflicts, "the generated policies do conflict").toBeGreaterThan(100);
  });

  it("policy map: the same disjoint (source . destination) elements as cutting at every source boundary and filtering every rectangle", () => {
    fc.assert(
      fc.property(policies(true), (list) => {
        const result = compilePolicies(list);
        expect(result.diagnostics.filter((diagnostic) => diagnostic.severity === "error")).toEqual([]);
        const gateway = result.model!.gateways[0]!;
        expect(policyElements(gateway)).toEqual(pairwiseElements(gateway));
      }),
      { seed: 4711, numRuns: 200 },
    );
  });
});
