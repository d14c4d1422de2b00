import { quote } from "../diagnostics/quote.js";
import type { NatGateway } from "../spec/types.generated.js";
import type { GatewayInput } from "./inputs.js";
import type { Reporter } from "./reporter.js";

/**
 * Egress IP names are unique within a gateway (policies refer to them by name);
 * a floating IP is routed to one server at a time, so one ID serves one gateway.
 * Delete protection belongs to the floating IPs natgw creates: partners allowlist
 * their addresses, and a deleted one is gone for good.
 */
export function checkEgressIPs(gateways: readonly GatewayInput[], reporter: Reporter): void {
  // The first owner's place is put into words only when a second one reports it:
  // finding a line and column parses the file again for positions, which a valid
  // spec never needs (on examples/ha.yaml, that parse was most of resolve's time).
  const floatingOwners = new Map<number, () => string>();
  for (const gateway of gateways) {
    const names = new Set<string>();
    gateway.settings.egressIPs.forEach((egressIP, index) => {
      const pointer = `/spec/egressIPs/${index}`;
      if (names.has(egressIP.name)) {
        reporter.report("duplicateEgressIPName", { name: quote(egressIP.name) }, gateway.document, `${pointer}/name`);
      }
      names.add(egressIP.name);
      checkDeleteProtection(gateway, index, reporter);
      if (egressIP.floatingIPId === undefined) return;
      const owner = floatingOwners.get(egressIP.floatingIPId);
      if (owner) {
        reporter.report("floatingIPReused", { id: egressIP.floatingIPId, other: owner() }, gateway.document, `${pointer}/floatingIPId`);
      } else {
        floatingOwners.set(
          egressIP.floatingIPId,
          () => `egress IP ${quote(egressIP.name)} of gateway ${quote(gateway.settings.name)} (${reporter.where(gateway.document, `${pointer}/floatingIPId`)})`,
        );
      }
    });
  }
}

function checkDeleteProtection(gateway: GatewayInput, index: number, reporter: Reporter): void {
  const egressIP = gateway.settings.egressIPs[index]!;
  const pointer = `/spec/egressIPs/${index}/deleteProtection`;
  // Whether the spec sets it at all: settings carry the default in its place.
  const written = (gateway.document.data as unknown as NatGateway).spec.egressIPs?.[index]?.deleteProtection;
  if (egressIP.floatingIPId !== undefined && written !== undefined) {
    reporter.report("deleteProtectionOfExisting", { name: quote(egressIP.name), id: String(egressIP.floatingIPId) }, gateway.document, pointer);
  } else if (egressIP.deleteProtection === false) {
    reporter.report("deleteProtectionOff", { name: quote(egressIP.name) }, gateway.document, pointer);
  }
}
