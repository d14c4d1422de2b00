/**
 * natgw for cdktf apps (`natgw/cdktf`): a NatGateway inside your own stack, a
 * NatGatewayStack of its own, the providers they need, and the app `cdktf
 * synth` runs. cdktf and constructs are peer dependencies: your app's copies.
 */
export { NatGateway, type NatGatewayProps, type NatGatewayEgressIp, type NatGatewayMember, type NatGatewayRoute } from "./gateway.js";
export { NatGatewayStack, type NatGatewayStackOptions } from "./stack.js";
export { NatGatewaySpecError, type NatGatewaySpec } from "./spec.js";
export { HcloudProvider, TlsProvider } from "./providers.js";
export { synthApp, specFiles, SPEC_CONTEXT_KEY } from "./app.js";
