import { quote } from "../diagnostics/quote.js";
import type { BastionSettings } from "./defaults.js";
import type { GatewayInput } from "./inputs.js";
import type { BastionModel } from "./model.js";
import type { Reporter } from "./reporter.js";
import { hostKeyProblem, hostKind, meantHost } from "./ssh.js";

const POINTER = "/spec/members/bastion";

/** The bastion Terraform's push goes through: a host Terraform can connect to, and a host key that is whole. */
export function checkBastion(gateway: GatewayInput, reporter: Reporter): void {
  const bastion = gateway.settings.members.bastion;
  if (!bastion) return;
  const { document } = gateway;
  if (hostKind(bastion.host) === undefined) {
    reporter.report("badBastionHost", { found: quote(bastion.host), ...meantHost(bastion.host) }, document, `${POINTER}/host`);
  }
  if (bastion.hostKey !== undefined) {
    const problem = hostKeyProblem(bastion.hostKey);
    if (problem) {
      const type = bastion.hostKey.slice(0, bastion.hostKey.indexOf(" "));
      reporter.report("hostKeyData", { type, found: quote(bastion.hostKey), problem }, document, `${POINTER}/hostKey`);
    }
  }
}

export function bastionModel(bastion: BastionSettings | null): BastionModel | null {
  if (!bastion) return null;
  return { host: bastion.host, user: bastion.user, port: bastion.port, hostKey: bastion.hostKey ?? null, target: bastion.target };
}
