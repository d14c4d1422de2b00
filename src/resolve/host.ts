import { quote, count } from "../diagnostics/quote.js";
import type { GatewayInput } from "./inputs.js";
import type { HostModel, VrrpModel } from "./model.js";
import { groupByNetwork } from "./network.js";
import type { Reporter } from "./reporter.js";
import { SERVER_TYPE_MEMORY_MIB, UNKNOWN_SERVER_TYPE_MEMORY_MIB, conntrackSizing } from "./server-types.js";

/** Connection tracking sized from the server type's memory; an unknown type is a warning. */
export function hostSizing(gateway: GatewayInput, reporter: Reporter): HostModel {
  const serverType = gateway.settings.members.serverType;
  const known = SERVER_TYPE_MEMORY_MIB[serverType];
  const sizing = conntrackSizing(known ?? UNKNOWN_SERVER_TYPE_MEMORY_MIB);
  if (known === undefined) {
    reporter.report(
      "unknownServerType",
      { serverType: quote(serverType), memory: `${sizing.memoryMiB / 1024} GiB`, conntrackMax: count(sizing.conntrackMax) },
      gateway.document,
      "/spec/members/serverType",
    );
  }
  return sizing;
}

/**
 * VRRP settings per HA gateway. The virtual router id comes from a hash of the
 * gateway's name, so it is stable across builds; gateways sharing a network take
 * the next free id in name order if two hashes meet (VRRP peers ignore adverts of
 * another id, so a clash would merge two gateways' elections).
 */
export function vrrpSettings(gateways: readonly GatewayInput[], reporter: Reporter): Map<string, VrrpModel> {
  const result = new Map<string, VrrpModel>();
  for (const group of groupByNetwork(gateways).values()) {
    const used = new Set<number>();
    for (const gateway of group) {
      const ha = gateway.settings.highAvailability;
      if (!ha.enabled) continue;
      const interval = ha.advertIntervalSeconds;
      if (Math.abs(Math.round(interval * 100) - interval * 100) > 1e-9) {
        reporter.report("advertIntervalPrecision", { found: interval }, gateway.document, "/spec/highAvailability/advertIntervalSeconds");
        continue;
      }
      let id = (fnv1a(gateway.settings.name) % 255) + 1;
      while (used.has(id)) id = (id % 255) + 1;
      used.add(id);
      result.set(gateway.settings.name, { virtualRouterId: id, advertIntervalSeconds: interval, preempt: ha.preempt });
    }
  }
  return result;
}

/** 32-bit FNV-1a: small, well known, and the same on every machine. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, "utf8")) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
