import type { Block, ConfigurationBuilder, RequiredProvider } from "./configuration.js";
import { defined } from "./hcloud.js";

/**
 * The part of the hashicorp/tls provider (v4.1) that natgw uses, typed as
 * hcloud.ts types hcloud. Its resources are local: they call no API, and what
 * they make lives in the Terraform state.
 */

export const TLS_PROVIDER: RequiredProvider = { source: "hashicorp/tls", version: "~> 4.0" };

/**
 * The provider takes no arguments natgw needs (its only block is a proxy for
 * tls_certificate's downloads); the empty block keeps the configuration
 * explicit about every provider it uses.
 */
export function tlsProvider(config: ConfigurationBuilder): void {
  config.provider("tls", {}, TLS_PROVIDER);
}

/** tls_private_key: a key pair made once and kept until the resource is replaced. */
export function privateKey(
  config: ConfigurationBuilder,
  name: string,
  args: { algorithm: "RSA" | "ECDSA" | "ED25519"; rsaBits?: number; ecdsaCurve?: "P224" | "P256" | "P384" | "P521" },
): Block {
  return config.resource("tls_private_key", name, defined({ algorithm: args.algorithm, rsa_bits: args.rsaBits, ecdsa_curve: args.ecdsaCurve }));
}
