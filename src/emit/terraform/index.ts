/**
 * natgw for cdktf apps (`natgw/cdktf`): the NatGateway stack as a construct, the
 * typed hcloud and tls layers it is built from, and the app `cdktf synth` runs.
 */
export { NatGatewayStack, type NatGatewaySpec, type NatGatewayStackOptions } from "./stack.js";
export * from "./hcloud.js";
export * from "./tls.js";
export { synthApp, specFiles, SPEC_CONTEXT_KEY } from "./app.js";
