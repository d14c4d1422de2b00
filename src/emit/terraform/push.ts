import { createHash } from "node:crypto";
import { posix } from "node:path";
import type { BastionModel, MemberModel } from "../../resolve/model.js";
import type { FileMode } from "../artifact.js";
import { HOST_PATHS } from "../hosts/context.js";
import type { Block, Connection, ConfigurationBuilder, Provisioner } from "./configuration.js";
import { applyScript, checkList, prepareScript, PUSH_CHECK_LIST, PUSH_STAGING_DIR } from "./push-script.js";

export interface HostFileContent {
  readonly hostPath: string;
  readonly fileMode: FileMode;
  readonly content: string;
}

export interface MemberHost {
  /** The member's cloud-init.yaml: first boot only, sent with its host key (host-key.ts). */
  readonly cloudInit: string;
  /** Every other file of the member, at its path on the host. */
  readonly files: readonly HostFileContent[];
}

export interface ConfigPushInput {
  /** Terraform address of the network id, e.g. `data.hcloud_network.network.id`. */
  readonly networkId: string;
  readonly members: readonly { member: MemberModel; server: Block; host: MemberHost; hostKey: Block }[];
  /** Terraform addresses of each egress IP's floating IP id and address. */
  readonly egress: readonly { name: string; id: string; address: string }[];
  /** Terraform address of the token the members get, e.g. `local.member_hcloud_token`. */
  readonly token: string;
  /** Terraform expression of the SSH private key: an address, or `null`; when it is null, Terraform asks the SSH agent. */
  readonly sshPrivateKey: string;
  /** The jump host of the push, or null: straight to each member's public IPv4. */
  readonly bastion: BastionModel | null;
  /** What must exist before natgw-ctl reconciles: the floating IP assignments and routes. */
  readonly after: readonly Block[];
  /** A Terraform name for one of the gateway's objects: its own in a stack, prefixed in a user's. */
  readonly name: (text: string) => string;
}

/**
 * Terraform JSON strings are templates: a host file's own `${` and `%{` (shell
 * parameter expansion in natgw-ctl) are doubled so they reach the host as written.
 */
export function templateLiteral(content: string): string {
  return content.replace(/([$%])\{/g, (_match, sigil: string) => `${sigil}${sigil}{`);
}

/** sha256 over every file's path, mode and content: changes whenever anything pushed changes. */
export function hostFilesDigest(files: readonly HostFileContent[]): string {
  const hash = createHash("sha256");
  for (const file of [...files].sort((a, b) => (a.hostPath < b.hostPath ? -1 : 1))) {
    hash.update(`${file.hostPath}\0${file.fileMode}\0${Buffer.byteLength(file.content)}\0`).update(file.content);
  }
  return hash.digest("hex");
}

/** cloud.json, as natgw-ctl reads it: ids and addresses known only after apply. */
function cloudJsonExpression(input: ConfigPushInput): string {
  const servers = input.members.map(({ member, server }) => `"${member.name}" = tonumber(${server.attributeAddress("id")})`);
  const floatingIPs = input.egress.map((egress) => `"${egress.name}" = { id = tonumber(${egress.id}), address = ${egress.address} }`);
  return `\${jsonencode({ networkId = tonumber(${input.networkId}), servers = { ${servers.join(", ")} }, floatingIPs = { ${floatingIPs.join(", ")} } })}`;
}

/**
 * Later config changes and the API token reach the members over SSH, never
 * through user_data: user_data forces a server's replacement in the hcloud
 * provider and is served by the metadata service to anything on the host. One
 * terraform_data per member, replaced (and so re-run) whenever the member's host
 * files or cloud.json change. In HA the second member's push waits for the
 * first, so the two never restart their data plane at the same moment.
 *
 * The connection accepts only the member's own host key (host-key.ts), so the
 * token goes to no one else who answers on that address. Every pushed file is
 * checked by sha256 on the member before natgw-ctl reconcile runs (push-script.ts).
 * The token is not in the trigger on purpose: a hash of a secret would sit in
 * the state; a new token is pushed with `terraform apply -replace`.
 */
export function configPush(config: ConfigurationBuilder, input: ConfigPushInput): void {
  const cloudJson = config.local(input.name("cloud_json"), cloudJsonExpression(input));
  let previous: Block | null = null;
  for (const { member, server, host, hostKey } of input.members) {
    const files = [...host.files].sort((a, b) => (a.hostPath < b.hostPath ? -1 : 1));
    const expressions = [
      { hostPath: HOST_PATHS.cloud, fileMode: "0644", expression: cloudJson },
      { hostPath: HOST_PATHS.token, fileMode: "0600", expression: input.token },
    ];
    const pushed = [
      ...files.map((file) => ({ hostPath: file.hostPath, fileMode: file.fileMode as string, content: templateLiteral(file.content) })),
      ...expressions.map(({ hostPath, fileMode, expression }) => ({ hostPath, fileMode, content: `\${${expression}}` })),
    ];
    // The hash of a host file is of its text as it arrives on the host, before
    // templateLiteral's escaping, which Terraform undoes.
    const sums = checkList([
      ...files.map((file) => ({ sha256: createHash("sha256").update(file.content).digest("hex"), hostPath: file.hostPath })),
      ...expressions.map(({ hostPath, expression }) => ({ sha256: `\${sha256(${expression})}`, hostPath })),
    ]);
    const directories = [...new Set(pushed.map((file) => posix.dirname(file.hostPath)))].sort();
    const copies = [...pushed.map((file) => ({ destination: `${PUSH_STAGING_DIR}${file.hostPath}`, content: file.content })), { destination: PUSH_CHECK_LIST, content: sums }];
    const provisioner: Provisioner[] = [
      { "remote-exec": { inline: prepareScript(member.name, directories) } },
      ...copies.map((copy): Provisioner => ({ file: copy })),
      { "remote-exec": { inline: applyScript(member.name, pushed) } },
    ];
    // Terraform JSON: `terraform_data` is built into Terraform 1.4 and later.
    const push: Block = config.resource(
      "terraform_data",
      input.name(member.name),
      { triggers_replace: { host_files: hostFilesDigest(files), cloud_json: `\${sha256(${cloudJson})}` } },
      {
        connection: connection(input, server, member, hostKey),
        provisioner,
        depends_on: [server.address, ...input.after.map((block) => block.address), ...(previous ? [previous.address] : [])],
      },
    );
    previous = push;
  }
}

/**
 * SSH as root, pinned to the member's own host key. Through a bastion the push
 * goes to the member's private IP (the bastion is in the network) or its
 * public one, as the spec says; the bastion takes the same private key, or
 * the agent.
 */
function connection(input: ConfigPushInput, server: Block, member: MemberModel, hostKey: Block): Connection {
  const direct: Connection = {
    type: "ssh",
    host: input.bastion?.target === "private" ? member.privateIp : server.attribute("ipv4_address"),
    user: "root",
    private_key: `\${${input.sshPrivateKey}}`,
    host_key: hostKey.attribute("public_key_openssh"),
  };
  const bastion = input.bastion;
  if (bastion === null) return direct;
  return {
    ...direct,
    bastion_host: bastion.host,
    bastion_user: bastion.user,
    bastion_port: bastion.port,
    bastion_private_key: `\${${input.sshPrivateKey}}`,
    ...(bastion.hostKey !== null ? { bastion_host_key: bastion.hostKey } : {}),
  };
}
