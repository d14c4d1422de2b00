import { hostKeyCloudConfig } from "../hosts/cloud-init.js";
import type { Block, ConfigurationBuilder, Expression } from "./configuration.js";
import { templateLiteral } from "./push.js";
import { privateKey } from "./tls.js";

export interface MemberBoot {
  /** The server's user_data: a Terraform expression. */
  readonly userData: Expression;
  /** The member's SSH host key (tls_private_key), which the config push's connection pins. */
  readonly hostKey: Block;
}

/**
 * A member's SSH host key, made by Terraform, and the user_data that installs
 * it. The key exists only once Terraform has made it, so user_data is a
 * Terraform expression rather than bytes natgw computes: base64gzip over the
 * cloud-config text and its ssh_keys lines, the key strings jsonencode()d into
 * them. Hetzner's datasource decodes the base64 and cloud-init unpacks the gzip.
 * The private key is in the Terraform state (tls_private_key keeps it there)
 * and in the server's user data, which the metadata service serves to
 * processes on the member itself (natgw's forward chain drops what others send
 * to 169.254.169.254 through the member).
 */
export function memberBoot(config: ConfigurationBuilder, name: (text: string) => string, memberName: string, cloudConfig: string): MemberBoot {
  // The key lines are appended as top-level keys: the text before them must end its last line.
  if (!cloudConfig.endsWith("\n")) throw new Error(`natgw bug: the cloud-config of ${memberName} does not end with a newline`);
  const hostKey = privateKey(config, name(memberName), { algorithm: "ED25519" });
  const keyLines = hostKeyCloudConfig(
    `\${jsonencode(${hostKey.attributeAddress("private_key_openssh")})}`,
    `\${jsonencode(${hostKey.attributeAddress("public_key_openssh")})}`,
  );
  // The cloud-config is a Terraform template here: its own `${` and `%{` are doubled.
  const local = config.local(name(`user_data_${memberName}`), `${templateLiteral(cloudConfig)}${keyLines}`);
  return { userData: `\${base64gzip(${local})}`, hostKey };
}
