import { createHash } from "node:crypto";
import { posix } from "node:path";
import {
  TerraformLocal,
  TerraformResource,
  anyToTerraform,
  hashMapper,
  type FileProvisioner,
  type ITerraformDependable,
  type RemoteExecProvisioner,
  type TerraformMetaArguments,
} from "cdktf";
import type { Construct } from "constructs";
import type { MemberModel } from "../../resolve/model.js";
import type { FileMode } from "../artifact.js";
import { HOST_PATHS } from "../hosts/context.js";
import type { Server } from "./hcloud.js";

export interface HostFileContent {
  readonly hostPath: string;
  readonly fileMode: FileMode;
  readonly content: string;
}

export interface MemberHost {
  /** The member's cloud-init.yaml: first boot only. */
  readonly cloudInit: string;
  /** Every other file of the member, at its path on the host. */
  readonly files: readonly HostFileContent[];
}

export interface ConfigPushInput {
  /** Terraform address of the network id, e.g. `data.hcloud_network.network.id`. */
  readonly networkId: string;
  readonly members: readonly { member: MemberModel; server: Server; host: MemberHost }[];
  /** Terraform addresses of each egress IP's floating IP id and address. */
  readonly egress: readonly { name: string; id: string; address: string }[];
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

/** Where pushed files wait, root-only, until they are moved into place. */
export const PUSH_STAGING_DIR = `${HOST_PATHS.stateDir}/push`;

/**
 * Copies a staged file into place with its mode and renames it over the old one:
 * scp writes in place, and keepalived runs natgw-ctl every few seconds, so a file
 * must never be seen half written or without its mode.
 */
function moveIntoPlace(hostPath: string, mode: string): string {
  const next = `${hostPath}.natgw-new`;
  return `install -m ${mode} ${PUSH_STAGING_DIR}${hostPath} ${next} && mv -f ${next} ${hostPath}`;
}

/**
 * Later config changes and the API token reach the members over SSH, never
 * through user_data: user_data forces a server's replacement in the hcloud
 * provider and is served by the metadata service to anything on the host. One
 * terraform_data per member, replaced (and so re-run) whenever the member's host
 * files or cloud.json change. In HA the second member's push waits for the
 * first, so the two never restart their data plane at the same moment.
 */
export function configPush(scope: Construct, input: ConfigPushInput): void {
  const cloudJson = new TerraformLocal(scope, "cloud_json", cloudJsonExpression(input));
  cloudJson.overrideLogicalId("cloud_json");
  let previous: TerraformData | null = null;
  for (const { member, server, host } of input.members) {
    const files = [...host.files].sort((a, b) => (a.hostPath < b.hostPath ? -1 : 1));
    const pushed = [
      ...files.map((file) => ({ hostPath: file.hostPath, fileMode: file.fileMode as string, content: templateLiteral(file.content) })),
      { hostPath: HOST_PATHS.cloud, fileMode: "0644", content: "${local.cloud_json}" },
      { hostPath: HOST_PATHS.token, fileMode: "0600", content: input.token },
    ];
    const directories = [...new Set(pushed.map((file) => posix.dirname(file.hostPath)))].sort();
    const prepare: RemoteExecProvisioner = {
      type: "remote-exec",
      inline: [
        // The first push can start while cloud-init still writes the same files.
        "cloud-init status --wait >/dev/null 2>&1 || true",
        // Root-only, since the token passes through it.
        `rm -rf ${PUSH_STAGING_DIR} && install -d -m 0700 ${PUSH_STAGING_DIR}`,
        `mkdir -p ${directories.map((directory) => `${PUSH_STAGING_DIR}${directory}`).join(" ")} ${directories.join(" ")}`,
      ],
    };
    const copies = pushed.map((file): FileProvisioner => ({ type: "file", destination: `${PUSH_STAGING_DIR}${file.hostPath}`, content: file.content }));
    const apply: RemoteExecProvisioner = {
      type: "remote-exec",
      inline: [
        ...pushed.map((file) => moveIntoPlace(file.hostPath, file.fileMode)),
        `rm -rf ${PUSH_STAGING_DIR}`,
        "systemctl daemon-reload",
        `${HOST_PATHS.ctl} reconcile`,
      ],
    };
    const push = new TerraformData(
      scope,
      `push_${member.name}`,
      { host_files: hostFilesDigest(files), cloud_json: "${sha256(local.cloud_json)}" },
      {
        connection: { type: "ssh", host: server.ipv4Address, user: "root", privateKey: input.sshPrivateKey },
        provisioners: [prepare, ...copies, apply],
        dependsOn: [server, ...input.after, ...(previous ? [previous] : [])],
      },
    );
    push.overrideLogicalId(member.name);
    previous = push;
  }
}
