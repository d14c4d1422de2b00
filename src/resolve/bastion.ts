import { quote } from "../diagnostics/quote.js";
import type { BastionSettings } from "./defaults.js";
import type { GatewayInput } from "./inputs.js";
import { addressToNumber, containsAddress, overlaps } from "./ip.js";
import type { BastionModel } from "./model.js";
import type { Reporter } from "./reporter.js";
import { hostKeyProblem, hostKind, meantHost, type HostKind } from "./ssh.js";

const POINTER = "/spec/members/bastion";

/**
 * The bastion Terraform's push goes through: a host Terraform can connect to, a
 * host key that is whole, and an address the members admit SSH from. The members
 * admit SSH only from `security.sshAllowedCIDRs`, from their first boot on, so a
 * bastion outside it turns every push into an SSH timeout; natgw cannot know the
 * bastion's addresses for sure (a host name, NAT), so those are warnings.
 */
export function checkBastion(gateway: GatewayInput, reporter: Reporter): void {
  const bastion = gateway.settings.members.bastion;
  if (!bastion) return;
  const { document } = gateway;
  const kind = hostKind(bastion.host);
  if (kind === undefined) {
    reporter.report("badBastionHost", { found: quote(bastion.host), ...meantHost(bastion.host) }, document, `${POINTER}/host`);
  }
  if (bastion.hostKey === undefined) {
    reporter.report("bastionHostKeyMissing", { host: quote(bastion.host), port: bastion.port }, document, POINTER, "key");
  } else {
    const problem = hostKeyProblem(bastion.hostKey);
    if (problem) {
      const type = bastion.hostKey.slice(0, bastion.hostKey.indexOf(" "));
      reporter.report("hostKeyData", { type, found: quote(bastion.hostKey), problem }, document, `${POINTER}/hostKey`);
    }
  }
  checkAdmitted(gateway, bastion, kind, reporter);
}

function checkAdmitted(gateway: GatewayInput, bastion: BastionSettings, kind: HostKind | undefined, reporter: Reporter): void {
  const admitted = gateway.sshAllowedCIDRs;
  // An empty list is an error of its own (NATGW705): SSH is closed to everyone.
  if (admitted.length === 0) return;
  const allowed = admitted.map((entry) => entry.value.text).join(", ");
  const pointer = "/spec/security/sshAllowedCIDRs";
  if (bastion.target === "private") {
    // The bastion's private address is not in the spec; any entry that reaches into the network may hold it.
    if (!admitted.some((entry) => overlaps(entry.value, gateway.ipRange))) {
      reporter.report("bastionPrivateRefused", { ipRange: gateway.ipRange.text, allowed }, gateway.document, pointer);
    }
  } else if (kind === "ipv4") {
    // Only an IPv4 literal can be checked: a name resolves later, and the members' public addresses are IPv4.
    const address = addressToNumber(bastion.host);
    if (!admitted.some((entry) => containsAddress(entry.value, address))) {
      reporter.report("bastionPublicRefused", { host: bastion.host, allowed }, gateway.document, pointer);
    }
  }
}

export function bastionModel(bastion: BastionSettings | null): BastionModel | null {
  if (!bastion) return null;
  return { host: bastion.host, user: bastion.user, port: bastion.port, hostKey: bastion.hostKey ?? null, target: bastion.target };
}
