import { LocalBackend, TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import { stackConfiguration } from "../emit/terraform/stack.js";
import type { GatewayModel } from "../resolve/model.js";
import { addConfiguration } from "./elements.js";
import { resolveSpec } from "./gateway.js";
import type { NatGatewaySpec } from "./spec.js";

export interface NatGatewayStackOptions {
  /** false: no local backend, so a composing app can add its own (a stack has one). Default true. */
  readonly localBackend?: boolean;
}

/**
 * One NatGateway as a stack of its own: what `natgw build` writes to
 * stacks/<gateway>/cdk.tf.json (providers, variables, outputs and all), as a
 * cdktf stack. For a gateway inside a stack of your own, use NatGateway.
 */
export class NatGatewayStack extends TerraformStack {
  readonly gateway: GatewayModel;

  constructor(scope: Construct, id: string, source: GatewayModel | NatGatewaySpec, options: NatGatewayStackOptions = {}) {
    super(scope, id);
    const { gateway, hosts } = resolveSpec(source, id);
    this.gateway = gateway;
    const { terraform, ...configuration } = stackConfiguration(gateway, hosts);
    addConfiguration(this, { ...configuration, ...(terraform?.required_providers ? { terraform: { required_providers: terraform.required_providers } } : {}) });
    const local = terraform?.backend?.local as { path: string } | undefined;
    if (options.localBackend !== false && local) new LocalBackend(this, local);
  }
}
