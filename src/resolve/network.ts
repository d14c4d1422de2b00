import { quote } from "../diagnostics/quote.js";
import { ZONE_OF_LOCATION } from "./hetzner.js";
import { PRIVATE_RANGES } from "./hetzner.js";
import type { GatewayInput } from "./inputs.js";
import { contains, overlaps } from "./ip.js";
import type { Reporter } from "./reporter.js";
import { compareText } from "../util/order.js";

/**
 * Checks each gateway's network on its own (identity, private range, subnet,
 * zone, sources), then the gateways that share a network with one another
 * (one ip range, created once, subnets that agree or stay apart).
 */
export function checkNetworks(gateways: readonly GatewayInput[], reporter: Reporter): void {
  for (const gateway of gateways) checkNetwork(gateway, reporter);
  for (const group of groupByNetwork(gateways).values()) checkSharedNetwork(group, reporter);
}

/** Gateways by network key, each group in name order, so reports name the same "first" every time. */
export function groupByNetwork(gateways: readonly GatewayInput[]): Map<string, GatewayInput[]> {
  const groups = new Map<string, GatewayInput[]>();
  for (const gateway of [...gateways].sort((a, b) => compareText(a.settings.name, b.settings.name))) {
    const group = groups.get(gateway.networkKey) ?? [];
    group.push(gateway);
    groups.set(gateway.networkKey, group);
  }
  return groups;
}

function checkNetwork(gateway: GatewayInput, reporter: Reporter): void {
  const { document, settings, ipRange, subnet } = gateway;
  const network = settings.network;
  if (network.id !== undefined && (network.name !== undefined || network.create)) {
    const found = network.create ? "gives both `id` and `create: true`" : "gives both `id` and `name`";
    reporter.report("networkIdentity", { found }, document, "/spec/network/id", "key");
  } else if (network.id === undefined && network.name === undefined && !network.create) {
    reporter.report("networkIdentity", { found: "names no network" }, document, "/spec/network", "key");
  }
  if (!PRIVATE_RANGES.some((range) => contains(range, ipRange))) {
    reporter.report("networkNotPrivate", { found: quote(ipRange.text) }, document, "/spec/network/ipRange");
  }
  if (!contains(ipRange, subnet)) {
    reporter.report(
      "subnetOutsideRange",
      { subnet: quote(subnet.text), ipRange: quote(ipRange.text) },
      document,
      "/spec/network/subnet",
    );
  }
  const expectedZone = ZONE_OF_LOCATION[settings.location];
  if (network.zone !== expectedZone) {
    reporter.report(
      "zoneMismatch",
      { zone: quote(network.zone), location: quote(settings.location), expected: expectedZone },
      document,
      "/spec/network/zone",
    );
  }
  for (const source of gateway.sources) {
    if (!contains(ipRange, source.value)) {
      reporter.report("sourceOutsideNetwork", { source: quote(source.value.text), ipRange: quote(ipRange.text) }, document, source.pointer);
    }
  }
}

function checkSharedNetwork(group: readonly GatewayInput[], reporter: Reporter): void {
  const first = group[0];
  if (!first) return;
  const creator = group.find((gateway) => gateway.settings.network.create);
  for (const gateway of group.slice(1)) {
    const network = describeNetwork(gateway);
    if (gateway.ipRange.text !== first.ipRange.text) {
      reporter.report(
        "networkMismatch",
        {
          network,
          field: "ipRange",
          other: quote(first.settings.name),
          value: quote(gateway.ipRange.text),
          otherValue: quote(first.ipRange.text),
        },
        gateway.document,
        "/spec/network/ipRange",
      );
    }
    if (gateway.settings.network.create && creator && creator !== gateway) {
      reporter.report(
        "networkCreatedTwice",
        { network, other: quote(creator.settings.name) },
        gateway.document,
        "/spec/network/create",
      );
    }
  }
  group.forEach((gateway, index) => {
    for (const other of group.slice(0, index)) {
      if (other.subnet.text !== gateway.subnet.text && overlaps(other.subnet, gateway.subnet)) {
        reporter.report(
          "subnetOverlap",
          { subnet: quote(gateway.subnet.text), other: quote(other.settings.name), otherSubnet: quote(other.subnet.text) },
          gateway.document,
          "/spec/network/subnet",
        );
        break;
      }
    }
  });
}

export function describeNetwork(gateway: GatewayInput): string {
  const [kind, value] = gateway.networkKey.split(/:(.*)/s);
  return kind === "id" ? `id ${value}` : quote(value);
}
