import type { GatewayModel } from "../../resolve/model.js";
import { ConfigurationBuilder, type Configuration, type Variable } from "./configuration.js";
import { addGateway, addGatewayOutputs } from "./gateway.js";
import { HCLOUD_PROVIDER, hcloudProvider } from "./hcloud.js";
import type { MemberHost } from "./push.js";
import { TLS_PROVIDER, tlsProvider } from "./tls.js";

const TOKEN_LENGTH_MESSAGE = "A Hetzner Cloud API token has exactly 64 characters.";

/** A token variable's check; HCL evaluates both branches of a conditional but reports errors of the chosen one only, so length() never sees null. */
function tokenValidation(variable: string, nullable: boolean): Variable["validation"] {
  const condition = nullable ? `var.${variable} == null ? true : length(var.${variable}) == 64` : `length(var.${variable}) == 64`;
  return [{ condition: `\${${condition}}`, error_message: TOKEN_LENGTH_MESSAGE }];
}

/**
 * Unset (null), Terraform's connection asks the SSH agent (SSH_AUTH_SOCK): so
 * `terraform plan` needs no key, and a pipeline may hold it in an agent.
 */
const SSH_PRIVATE_KEY: Variable = {
  type: "string",
  sensitive: true,
  nullable: true,
  default: null,
  description:
    "Private SSH key (OpenSSH format) matching one of the members' ssh_keys; Terraform pushes config and the token with it at apply. Unset: the SSH agent (SSH_AUTH_SOCK). Plan needs neither.",
};

/**
 * A gateway's own root module (`stacks/<gateway>/cdk.tf.json`): the provider,
 * a local state file, the pipeline's inputs, the gateway's objects and its
 * outputs. `terraform apply` runs here.
 */
export function stackConfiguration(gateway: GatewayModel, hosts: ReadonlyMap<string, MemberHost>): Configuration {
  const config = new ConfigurationBuilder();
  // A relative state path, the same on every machine.
  config.backend("local", { path: `terraform.${gateway.name}.tfstate` });
  const token = config.variable("hcloud_token", {
    type: "string",
    sensitive: true,
    description: "Hetzner Cloud API token (Read & Write) of the project; also pushed to the members for takeover unless member_hcloud_token is set.",
    validation: tokenValidation("hcloud_token", false),
  });
  // A token of the members' own can be revoked without breaking the pipeline's.
  const memberToken = config.variable("member_hcloud_token", {
    type: "string",
    sensitive: true,
    nullable: true,
    default: null,
    description:
      "Hetzner Cloud API token (Read & Write) pushed to the members for takeover, in place of hcloud_token; rotate it with terraform apply -replace=terraform_data.<member>.",
    validation: tokenValidation("member_hcloud_token", true),
  });
  const sshKey = config.variable("ssh_private_key", SSH_PRIVATE_KEY);
  hcloudProvider(config, `\${${token}}`);
  tlsProvider(config);
  const pushedToken = config.local("member_hcloud_token", `\${coalesce(${memberToken}, ${token})}`);
  const objects = addGateway(config, gateway, hosts, { prefix: "", memberToken: pushedToken, sshPrivateKey: sshKey, network: { from: "spec" } });
  addGatewayOutputs(config, gateway, objects);
  return config.configuration;
}

/**
 * The gateway as a module (`modules/<gateway>/main.tf.json`) for a user's own
 * root module: no provider and no backend, which the caller brings (so
 * `for_each`, `count` and `depends_on` work on it), and the same objects and
 * outputs as the stack. Its inputs: the members' token, the SSH key, and, for a
 * gateway on an existing network, that network's id.
 */
export function moduleConfiguration(gateway: GatewayModel, hosts: ReadonlyMap<string, MemberHost>): Configuration {
  const config = new ConfigurationBuilder();
  config.requireProvider("hcloud", HCLOUD_PROVIDER);
  config.requireProvider("tls", TLS_PROVIDER);
  const memberToken = config.variable("member_hcloud_token", {
    type: "string",
    sensitive: true,
    description:
      "Hetzner Cloud API token (Read & Write) the members use for takeover (may be the provider's own); rotate it by replacing the module's terraform_data.<member>.",
    validation: tokenValidation("member_hcloud_token", false),
  });
  const sshKey = config.variable("ssh_private_key", SSH_PRIVATE_KEY);
  let network: { from: "spec" } | { from: "input"; id: string } = { from: "spec" };
  if (!gateway.network.create) {
    const described = gateway.network.id !== null ? `network ${gateway.network.id}` : `the network named ${JSON.stringify(gateway.network.name)}`;
    network = {
      from: "input",
      id: config.variable("network_id", {
        type: "number",
        nullable: true,
        default: gateway.network.id,
        description: `The id of the existing private network the gateway joins; null: ${described}, as the spec says. Its ip_range must be the spec's ${gateway.network.ipRange}.`,
      }),
    };
  }
  const objects = addGateway(config, gateway, hosts, { prefix: "", memberToken, sshPrivateKey: sshKey, network });
  addGatewayOutputs(config, gateway, objects);
  return config.configuration;
}
