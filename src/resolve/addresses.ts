import { quote } from "../diagnostics/quote.js";
import { MEMBER_COUNT, routerAddress } from "./hetzner.js";
import type { GatewayInput } from "./inputs.js";
import { addressToNumber, containsAddress, numberToAddress } from "./ip.js";
import { groupByNetwork } from "./network.js";
import type { Reporter } from "./reporter.js";

/**
 * Chooses each member's private address: the given ones, checked, or the highest
 * free addresses of the subnet. Hetzner hands out addresses from the bottom of a
 * subnet when it assigns them itself, so taking them from the top keeps the
 * members out of the workers' way:
 *
 *     10.0.1.0/24:  .0 subnet   .1 … workers …   .253 member 2   .254 member 1   .255 broadcast
 *     10.0.0.1 is the network's router and never a member.
 *
 * Gateways are taken in name order, so the addresses do not depend on the order
 * of files or documents. Returns gateway name -> addresses in member order, for
 * the gateways whose addresses could be chosen.
 */
export function allocateMemberAddresses(gateways: readonly GatewayInput[], reporter: Reporter): Map<string, string[]> {
  const result = new Map<string, string[]>();
  for (const group of groupByNetwork(gateways).values()) {
    // Given addresses first, across the whole network, so allocation never takes one.
    // The owner's place is put into words only for a report: see checkEgressIPs.
    const taken = new Map<number, () => string>();
    for (const gateway of group) {
      const given = gateway.settings.members.privateIPs ?? [];
      given.forEach((address, index) => {
        const pointer = `/spec/members/privateIPs/${index}`;
        const value = addressToNumber(address);
        const reason = reservedReason(gateway, value);
        const owner = taken.get(value);
        if (!containsAddress(gateway.subnet, value)) {
          reporter.report("memberIPOutsideSubnet", { address: quote(address), subnet: quote(gateway.subnet.text) }, gateway.document, pointer);
        } else if (reason) {
          reporter.report("memberIPReserved", { address: quote(address), reason }, gateway.document, pointer);
        } else if (owner) {
          reporter.report("memberIPTaken", { address: quote(address), other: owner() }, gateway.document, pointer);
        }
        if (!owner) taken.set(value, () => `gateway ${quote(gateway.settings.name)} (${reporter.where(gateway.document, pointer)})`);
      });
    }
    for (const gateway of group) {
      const mode = gateway.settings.highAvailability.enabled ? "ha" : "single";
      const needed = MEMBER_COUNT[mode];
      const given = gateway.settings.members.privateIPs;
      if (given) {
        if (given.length !== needed) {
          reporter.report(
            "privateIPCount",
            { mode: mode === "ha" ? "high availability" : "Single mode", expected: needed, found: given.length },
            gateway.document,
            "/spec/members/privateIPs",
          );
        } else {
          result.set(gateway.settings.name, [...given]);
        }
        continue;
      }
      const chosen: string[] = [];
      for (let candidate = gateway.subnet.last - 1; candidate > gateway.subnet.first && chosen.length < needed; candidate--) {
        if (taken.has(candidate) || reservedReason(gateway, candidate)) continue;
        taken.set(candidate, () => `gateway ${quote(gateway.settings.name)}`);
        chosen.push(numberToAddress(candidate));
      }
      if (chosen.length < needed) {
        reporter.report("subnetFull", { subnet: quote(gateway.subnet.text), needed }, gateway.document, "/spec/network/subnet");
      } else {
        result.set(gateway.settings.name, chosen);
      }
    }
  }
  return result;
}

function reservedReason(gateway: GatewayInput, address: number): string | undefined {
  if (address === routerAddress(gateway.ipRange)) return "is the network's first address, where Hetzner's router answers";
  if (address === gateway.subnet.first) return "is the subnet's network address";
  if (address === gateway.subnet.last) return "is the subnet's broadcast address";
  return undefined;
}
