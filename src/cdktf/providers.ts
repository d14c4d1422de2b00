import type { Construct } from "constructs";
import { HCLOUD_PROVIDER } from "../emit/terraform/hcloud.js";
import { TLS_PROVIDER } from "../emit/terraform/tls.js";
import { ConfiguredProvider } from "./elements.js";

/**
 * The two providers a NatGateway's resources need, for a user's own stack:
 * `new HcloudProvider(stack, "hcloud", { token })` and `new TlsProvider(stack, "tls")`.
 */
export class HcloudProvider extends ConfiguredProvider {
  constructor(scope: Construct, id: string, config: { readonly token?: string; readonly pollInterval?: string; readonly alias?: string } = {}) {
    super(scope, id, "hcloud", HCLOUD_PROVIDER, {
      ...(config.token !== undefined ? { token: config.token } : {}),
      ...(config.pollInterval !== undefined ? { poll_interval: config.pollInterval } : {}),
    });
    if (config.alias !== undefined) this.alias = config.alias;
  }
}

/** hashicorp/tls makes the members' SSH host keys; it takes no settings. */
export class TlsProvider extends ConfiguredProvider {
  constructor(scope: Construct, id: string) {
    super(scope, id, "tls", TLS_PROVIDER, {});
  }
}
