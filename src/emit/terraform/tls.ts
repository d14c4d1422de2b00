import { TerraformProvider, TerraformResource, type TerraformMetaArguments } from "cdktf";
import type { Construct } from "constructs";
import { defined } from "./hcloud.js";

/**
 * The part of the hashicorp/tls provider (v4.1) that natgw uses, typed as
 * hcloud.ts types hcloud: each class names its Terraform type and writes its
 * arguments under the exact names of the provider's schema, which the contract
 * test checks. Its resources are local: they call no API, and what they make
 * lives in the Terraform state.
 */

export const TLS_PROVIDER_SOURCE = "hashicorp/tls";
export const TLS_PROVIDER_VERSION = "~> 4.0";

/**
 * The provider takes no arguments natgw needs (its only block is a proxy for
 * tls_certificate's downloads); the empty block is what puts hashicorp/tls into
 * required_providers, which cdktf fills from the provider constructs of a stack.
 */
export class TlsProvider extends TerraformProvider {
  constructor(scope: Construct, id: string) {
    super(scope, id, {
      terraformResourceType: "tls",
      terraformProviderSource: TLS_PROVIDER_SOURCE,
      terraformGeneratorMetadata: { providerName: "tls", providerVersionConstraint: TLS_PROVIDER_VERSION },
    });
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return {};
  }
}

export interface PrivateKeyConfig extends TerraformMetaArguments {
  readonly algorithm: "RSA" | "ECDSA" | "ED25519";
  readonly rsaBits?: number;
  readonly ecdsaCurve?: "P224" | "P256" | "P384" | "P521";
}

/** tls_private_key: a key pair made once and kept until the resource is replaced. */
export class PrivateKey extends TerraformResource {
  constructor(scope: Construct, id: string, private readonly config: PrivateKeyConfig) {
    super(scope, id, { ...config, terraformResourceType: "tls_private_key", terraformGeneratorMetadata: { providerName: "tls" } });
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return defined({ algorithm: this.config.algorithm, rsa_bits: this.config.rsaBits, ecdsa_curve: this.config.ecdsaCurve });
  }

  /**
   * `tls_private_key.<name>`, as `lifecycle.replace_triggered_by` takes it in
   * Terraform JSON: a bare reference. cdktf writes a construct given there as
   * `${...}`, which Terraform rejects ("Invalid character").
   */
  get address(): string {
    return `${this.terraformResourceType}.${this.friendlyUniqueId}`;
  }

  /**
   * The Terraform address of one of its attributes, for use inside a larger
   * expression (`jsonencode(tls_private_key.x.public_key_openssh)`), where a
   * cdktf token would come out as a nested `${...}`.
   */
  attributeAddress(attribute: "private_key_openssh" | "public_key_openssh" | "public_key_fingerprint_sha256"): string {
    return `${this.address}.${attribute}`;
  }

  /** authorized_keys form, `ssh-ed25519 AAAA…\n` (sensitive: no). */
  get publicKeyOpenssh(): string {
    return this.getStringAttribute("public_key_openssh");
  }

  /** `SHA256:…`, as `ssh-keygen -l` prints it. */
  get publicKeyFingerprintSha256(): string {
    return this.getStringAttribute("public_key_fingerprint_sha256");
  }
}
