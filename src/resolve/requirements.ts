import { quote } from "../diagnostics/quote.js";
import type { GatewayInput } from "./inputs.js";
import type { Reporter } from "./reporter.js";

/**
 * What the cluster must satisfy for natgw to work. natgw cannot change these, so
 * each is an error that says why, or a warning where only the user can tell.
 */
export function checkRequirements(gateway: GatewayInput, reporter: Reporter): void {
  const { document, settings } = gateway;
  if (!settings.cluster.privateNetworking) {
    reporter.report("privateNetworkingOff", {}, document, "/spec/cluster/privateNetworking");
  }
  if (settings.cluster.hostFirewall) reporter.report("hostFirewallOn", {}, document, "/spec/cluster/hostFirewall");
  if (settings.cluster.privateOnly) {
    reporter.report("controlPlanePrivateOnly", {}, document, "/spec/cluster/controlPlane/privateOnly");
  }

  // Egress IP addresses are known only once Hetzner assigns them, so unless the
  // API is open to all, natgw cannot show that any of them is allowed.
  const allowed = gateway.apiAllowedNetworks;
  const openToAll = allowed.some((network) => network.value.prefixLength === 0);
  if (allowed.length > 0 && !openToAll) {
    const networks = allowed.map((network) => network.value.text).join(", ");
    settings.egressIPs.forEach((egressIP) => {
      const reason =
        egressIP.floatingIPId === undefined
          ? "is created by Terraform, so its address is known only after apply"
          : `is the existing floating IP ${egressIP.floatingIPId}, whose address the spec does not give`;
      reporter.report("egressNotAllowed", { egressIP: quote(egressIP.name), networks, reason }, document, "/spec/cluster/apiAllowedNetworks");
    });
  }
  if (settings.security.sshAllowedCIDRs.length === 0) reporter.report("sshClosed", {}, document, "/spec/security/sshAllowedCIDRs");
}
