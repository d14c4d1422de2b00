import { quote } from "../diagnostics/quote.js";
import { closest } from "../diagnostics/suggest.js";
import { policyEgressIP } from "./defaults.js";
import { LINK_LOCAL } from "./hetzner.js";
import type { GatewayInput, PolicyInput } from "./inputs.js";
import { CidrIndex } from "./cidr-index.js";
import { contains, formatRange, mergeRanges, type Cidr, type Ipv4Range } from "./ip.js";
import type { Located, Reporter } from "./reporter.js";
import { compareText } from "../util/order.js";

/** A policy whose gateway and egress IP exist, with the egress IP default applied. */
export interface BoundPolicy {
  readonly input: PolicyInput;
  readonly gateway: GatewayInput;
  readonly egressIP: string;
}

/** Follows each policy's gatewayRef and egressIP; reports the ones that lead nowhere. */
export function bindPolicies(
  policies: readonly PolicyInput[],
  gateways: ReadonlyMap<string, GatewayInput>,
  declaredGateways: readonly string[],
  reporter: Reporter,
): BoundPolicy[] {
  const bound: BoundPolicy[] = [];
  for (const policy of policies) {
    const gateway = gateways.get(policy.gatewayName);
    if (!gateway) {
      // A gateway that is declared but failed its own checks is not "nothing".
      if (!declaredGateways.includes(policy.gatewayName)) {
        const suggestion = closest(policy.gatewayName, declaredGateways);
        reporter.report(
          "unknownGateway",
          {
            name: quote(policy.gatewayName),
            known: declaredGateways.length ? declaredGateways.map((name) => quote(name)).join(", ") : "none",
            ...(suggestion ? { suggestion } : {}),
          },
          policy.document,
          "/spec/gatewayRef/name",
        );
      }
      continue;
    }
    const names = gateway.settings.egressIPs.map((egressIP) => egressIP.name);
    if (policy.egressIP !== undefined && !names.includes(policy.egressIP)) {
      const suggestion = closest(policy.egressIP, names);
      reporter.report(
        "unknownEgressIP",
        {
          name: quote(policy.egressIP),
          gateway: quote(gateway.settings.name),
          known: names.map((name) => quote(name)).join(", "),
          ...(suggestion ? { suggestion } : {}),
        },
        policy.document,
        "/spec/egressIP",
      );
      continue;
    }
    bound.push({ input: policy, gateway, egressIP: policyEgressIP(policy.egressIP, gateway.settings.egressIPs) });
  }
  return bound;
}

/**
 * Each policy's traffic must reach its gateway (sources inside the gateway's
 * sources, destinations public and covered by its routes), and no two policies
 * may send the same flow out of two egress IPs.
 */
export function checkPolicies(policies: readonly BoundPolicy[], reporter: Reporter): void {
  for (const policy of policies) checkReach(policy, reporter);
  const byGateway = new Map<string, BoundPolicy[]>();
  for (const policy of policies) {
    const list = byGateway.get(policy.gateway.settings.name) ?? [];
    list.push(policy);
    byGateway.set(policy.gateway.settings.name, list);
  }
  for (const list of byGateway.values()) checkConflicts(list, reporter);
}

function checkReach(policy: BoundPolicy, reporter: Reporter): void {
  const { input, gateway } = policy;
  const gatewaySources = mergeRanges(gateway.sources.map((source) => source.value));
  const routes = mergeRanges(gateway.routes.map((route) => route.value));
  for (const source of input.sources) {
    if (!coveredBy(source.value, gatewaySources)) {
      reporter.report(
        "policySourceOutside",
        {
          source: quote(source.value.text),
          gateway: quote(gateway.settings.name),
          sources: gateway.sources.map((s) => s.value.text).join(", "),
        },
        input.document,
        source.pointer,
      );
    }
  }
  for (const destination of input.destinations) {
    // Only a destination wholly inside these ranges is a mistake: 0.0.0.0/0 is a
    // fine policy destination, and the part of it that is private never arrives.
    if (contains(gateway.ipRange, destination.value)) {
      reporter.report(
        "policyDestinationPrivate",
        { destination: quote(destination.value.text), ipRange: quote(gateway.ipRange.text) },
        input.document,
        destination.pointer,
      );
    } else if (contains(LINK_LOCAL, destination.value)) {
      reporter.report("policyDestinationLinkLocal", { destination: quote(destination.value.text) }, input.document, destination.pointer);
    } else if (!coveredBy(destination.value, routes)) {
      reporter.report(
        "policyDestinationUnrouted",
        {
          destination: quote(destination.value.text),
          gateway: quote(gateway.settings.name),
          routes: gateway.routes.map((route) => route.value.text).join(", "),
        },
        input.document,
        destination.pointer,
      );
    }
  }
}

/** Whether one range lies inside the union of merged, sorted ranges. */
function coveredBy(range: Ipv4Range, merged: readonly Ipv4Range[]): boolean {
  return merged.some((candidate) => contains(candidate, range));
}

interface Rectangle {
  readonly policy: BoundPolicy;
  readonly source: Located<Cidr>;
  readonly destination: Located<Cidr>;
}

/**
 * Two policies conflict when a flow (source × destination) matches both and they
 * name different egress IPs. Rectangles are swept in source order, keeping only
 * those whose source range is still open, and each conflicting pair of policies is
 * reported once, at the later policy in name order, with the first overlap the
 * sweep meets as its example.
 *
 * Policies usually share a few team sources and differ by destination, so nearly
 * every open rectangle overlaps the current one's source: comparing each with all
 * open ones would take time in the square of the policies. The open rectangles
 * are instead indexed by destination (a prefix trie, see CidrIndex), which hands
 * out only those overlapping in destination with another egress IP, the conflicts.
 */
function checkConflicts(policies: readonly BoundPolicy[], reporter: Reporter): void {
  const rectangles: Rectangle[] = [];
  for (const policy of [...policies].sort((a, b) => compareText(a.input.name, b.input.name))) {
    for (const source of policy.input.sources) {
      for (const destination of policy.input.destinations) rectangles.push({ policy, source, destination });
    }
  }
  rectangles.sort((a, b) => a.source.value.first - b.source.value.first);
  // Rectangles leave the sweep in the order their sources end: one that ends before
  // the current source starts overlaps no later source either (they start later).
  const byLast = rectangles.map((_, index) => index).sort((a, b) => rectangles[a]!.source.value.last - rectangles[b]!.source.value.last);
  const open = new CidrIndex();
  let closed = 0;
  const reported = new Set<string>();
  rectangles.forEach((current, index) => {
    while (closed < byLast.length && rectangles[byLast[closed]!]!.source.value.last < current.source.value.first) {
      const doneIndex = byLast[closed]!;
      const done = rectangles[doneIndex]!;
      open.delete(done.destination.value, done.policy.egressIP, doneIndex);
      closed += 1;
    }
    // In sweep order, as the example of each pair is the first overlap met.
    const overlapping = open.overlapping(current.destination.value, current.policy.egressIP).sort((a, b) => a - b);
    for (const otherIndex of overlapping) {
      const other = rectangles[otherIndex]!;
      const [earlier, later] = other.policy.input.name < current.policy.input.name ? [other, current] : [current, other];
      const pair = `${earlier.policy.input.name}\0${later.policy.input.name}`;
      if (reported.has(pair)) continue;
      reported.add(pair);
      const flowSource = intersection(earlier.source.value, later.source.value);
      const flowDestination = intersection(earlier.destination.value, later.destination.value);
      reporter.report(
        "policyConflict",
        {
          policy: quote(later.policy.input.name),
          egressIP: quote(later.policy.egressIP),
          other: quote(earlier.policy.input.name),
          otherEgressIP: quote(earlier.policy.egressIP),
          example: `${formatRange(flowSource)} to ${formatRange(flowDestination)}`,
        },
        later.policy.input.document,
        later.destination.pointer,
      );
    }
    open.add(current.destination.value, current.policy.egressIP, index);
  });
}

function intersection(a: Ipv4Range, b: Ipv4Range): Ipv4Range {
  return { first: Math.max(a.first, b.first), last: Math.min(a.last, b.last) };
}
