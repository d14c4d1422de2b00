import { createHash } from "node:crypto";
import { posix } from "node:path";
import {
  TerraformLocal,
  TerraformResource,
  anyToTerraform,
  hashMapper,
  type FileProvisioner,
  type ITerraformDependable,
  type TerraformMetaArguments,
} from "cdktf";
import type { Construct } from "constructs";
import type { MemberModel } from "../../resolve/model.js";
import type { FileMode } from "../artifact.js";
import { HOST_PATHS } from "../hosts/context.js";
import type { Server } from "./hcloud.js";
import { applyScript, checkList, prepareScript, PUSH_CHECK_LIST, PUSH_STAGING_DIR } from "./push-script.js";
import type { PrivateKey } from "./tls.js";

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
  readonly members: readonly { member: MemberModel; server: Server; host: MemberHost; hostKey: PrivateKey }[];
  /** Terraform addresses of each egress IP's floating IP id and address. */
  readonly egress: readonly { name: string; id: string; address: string }[];
  /** Terraform expression of the token the members get, e.g. `local.member_hcloud_token`. */
  readonly token: string;
  readonly sshPrivateKey: string;
  /** What must exist before natgw-ctl reconciles: the floating IP assignments and routes. */
  readonly after: readonly ITerraformDependable[];
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
  const servers = input.members.map(({ member, server }) => `"${member.name}" = tonumber(${server.terraformResourceType}.${server.friendlyUniqueId}.id)`);
  const floatingIPs = input.egress.map((egress) => `"${egress.name}" = { id = tonumber(${egress.id}), address = ${egress.address} }`);
  return `\${jsonencode({ networkId = tonumber(${input.networkId}), servers = { ${servers.join(", ")} }, floatingIPs = { ${floatingIPs.join(", ")} } })}`;
}

/**
 * Terraform's built-in `terraform_data` resource, written as cdktf's DataResource
 * writes it, without the check DataResource adds: that check runs `terraform
 * version` on the machine that synthesizes, which costs a process per stack and
 * fails `natgw build` wherever Terraform is not installed, though building needs
 * none. The resource itself needs Terraform 1.4 or later where the stack is applied.
 */
class TerraformData extends TerraformResource {
  constructor(
    scope: Construct,
    id: string,
    private readonly triggersReplace: Readonly<Record<string, string>>,
    meta: TerraformMetaArguments,
  ) {
    super(scope, id, { ...meta, terraformResourceType: "terraform_data", terraformGeneratorMetadata: { providerName: "terraform" } });
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return { triggers_replace: hashMapper(anyToTerraform)(this.triggersReplace) };
  }
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
export function configPush(scope: Construct, input: ConfigPushInput): void {
  const cloudJson = new TerraformLocal(scope, "cloud_json", cloudJsonExpression(input));
  cloudJson.overrideLogicalId("cloud_json");
  let previous: TerraformData | null = null;
  for (const { member, server, host, hostKey } of input.members) {
    const files = [...host.files].sort((a, b) => (a.hostPath < b.hostPath ? -1 : 1));
    const expressions = [
      { hostPath: HOST_PATHS.cloud, fileMode: "0644", expression: "local.cloud_json" },
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
    const push = new TerraformData(
      scope,
      `push_${member.name}`,
      { host_files: hostFilesDigest(files), cloud_json: "${sha256(local.cloud_json)}" },
      {
        connection: { type: "ssh", host: server.ipv4Address, user: "root", privateKey: input.sshPrivateKey, hostKey: hostKey.publicKeyOpenssh },
        provisioners: [
          { type: "remote-exec", inline: prepareScript(member.name, directories) },
          ...copies.map((copy): FileProvisioner => ({ type: "file", ...copy })),
          { type: "remote-exec", inline: applyScript(member.name, pushed) },
        ],
        dependsOn: [server, ...input.after, ...(previous ? [previous] : [])],
      },
    );
    push.overrideLogicalId(member.name);
    previous = push;
  }
}
