import { quote } from "../diagnostics/quote.js";
import { DEFAULT_ROUTE, PRIVATE_RANGES, PUBLIC_GATEWAY, routerAddress } from "./hetzner.js";
import type { GatewayInput } from "./inputs.js";
import { compareRanges, contains, containsAddress, numberToAddress, overlaps, type Cidr } from "./ip.js";
import { groupByNetwork } from "./network.js";
import type { Located, Reporter } from "./reporter.js";

interface OwnedRoute {
  readonly gateway: GatewayInput;
  readonly route: Located<Cidr>;
}

/**
 * Hetzner's rules for network routes (one gateway per destination, no overlap
 * with a subnet or with 172.31.1.1, RFC 1918 or 0.0.0.0/0), applied across every
 * gateway on the same network. Overlaps are found by one sort and a sweep, so a
 * network with many routes costs n log n, not n².
 */
export function checkRoutes(gateways: readonly GatewayInput[], reporter: Reporter): void {
  for (const group of groupByNetwork(gateways).values()) {
    const subnets = group.map((gateway) => ({ gateway, subnet: gateway.subnet }));
    const owned: OwnedRoute[] = [];
    for (const gateway of group) {
      for (const route of gateway.routes) {
        owned.push({ gateway, route });
        checkDestination(gateway, route, subnets, reporter);
      }
    }
    owned.sort((a, b) => compareRanges(a.route.value, b.route.value));
    // Sorted by first address, wider first: a route overlaps an earlier one exactly
    // when it starts before the furthest end seen so far.
    let widest: OwnedRoute | undefined;
    for (const current of owned) {
      if (widest && overlaps(widest.route.value, current.route.value)) {
        reporter.report(
          "routeOverlap",
          {
            route: quote(current.route.value.text),
            other: quote(widest.route.value.text),
            gateway: quote(widest.gateway.settings.name),
            sameGateway: widest.gateway === current.gateway,
          },
          current.gateway.document,
          current.route.pointer,
        );
      }
      if (!widest || current.route.value.last > widest.route.value.last) widest = current;
    }
  }
}

function checkDestination(
  gateway: GatewayInput,
  route: Located<Cidr>,
  subnets: readonly { gateway: GatewayInput; subnet: Cidr }[],
  reporter: Reporter,
): void {
  const destination = route.value;
  if (destination.text === DEFAULT_ROUTE) return;
  if (!PRIVATE_RANGES.some((range) => contains(range, destination))) {
    reporter.report("routeNotAllowed", { route: quote(destination.text) }, gateway.document, route.pointer);
    return;
  }
  const router = routerAddress(gateway.ipRange);
  if (containsAddress(destination, router)) {
    reporter.report("routeCoversRouter", { route: quote(destination.text), router: numberToAddress(router) }, gateway.document, route.pointer);
  }
  if (overlaps(destination, PUBLIC_GATEWAY)) {
    reporter.report("routePublicGateway", { route: quote(destination.text) }, gateway.document, route.pointer);
  }
  const clash = subnets.find((entry) => overlaps(entry.subnet, destination));
  if (clash) {
    reporter.report(
      "routeOverlapsSubnet",
      { route: quote(destination.text), subnet: quote(clash.subnet.text), gateway: quote(clash.gateway.settings.name) },
      gateway.document,
      route.pointer,
    );
  }
}
