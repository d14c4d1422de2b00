import { createHash } from "node:crypto";
import { posix } from "node:path";
import { gzipSync } from "node:zlib";
import { diagnose } from "../../diagnostics/catalogue.js";
import type { Diagnostic } from "../../diagnostics/diagnostic.js";
import type { Artifact } from "../artifact.js";
import { CONNTRACKD_CONFIG } from "./conntrackd.js";
import type { MemberContext } from "./context.js";
import { HOST_PATHS, isHA } from "./context.js";
import { NATLOG_PROGRAM, NATLOG_UNIT_FILE } from "./natlog.js";
import { render } from "./render.js";
import { label } from "./safe.js";

/** Hetzner Cloud limits a server's user_data to 32 KiB. */
export const USER_DATA_LIMIT_BYTES = 32 * 1024;

/**
 * The files that grow with the spec (every policy CIDR, every port-block segment)
 * stay out of the user-data and travel only with Terraform's push, which a member
 * needs before it forwards anyway: cloud.json and the token arrive the same way.
 * The user-data then has the same size for ten policies or ten thousand, and the
 * first boot still fails closed (the ruleset cannot load without them). The
 * takeover program goes the same way: without the token and cloud.json it can do
 * nothing, and so does conntrackd's configuration: conntrackd finds the private
 * NIC through config.json. So do the NAT log's program and unit, which read
 * config.json and cloud.json, and which reconcile starts after the push. The
 * user-data keeps its room under the 32 KiB.
 */
export const PUSHED_ONLY: ReadonlySet<string> = new Set([HOST_PATHS.config, HOST_PATHS.ruleset, HOST_PATHS.takeover, CONNTRACKD_CONFIG, NATLOG_PROGRAM, NATLOG_UNIT_FILE]);

/** write_files entries are indented by four spaces; a block scalar's lines by six. */
const CONTENT_INDENT = "      ";

/** Paths natgw itself chose: absolute, without `..`, from a small alphabet. */
const HOST_PATH = /^(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)+$/;

export interface UserData {
  /** The member's cloud-init.yaml; null when it does not fit the limit. */
  readonly artifact: Artifact | null;
  readonly diagnostics: Diagnostic[];
}

interface WriteFile {
  readonly path: string;
  readonly permissions: string;
  readonly compressed: boolean;
  /** The YAML scalar after `content: `, block literal or base64 of gzip. */
  readonly content: string;
}

/**
 * Gzip with the header's operating-system byte fixed to Unix (3): zlib writes the
 * build platform's code there (19 on macOS), and the same input must give the
 * same bytes everywhere. The header holds no timestamp (mtime 0).
 */
export function gzip(content: string): Buffer {
  const compressed = gzipSync(Buffer.from(content, "utf8"), { level: 9 });
  compressed[9] = 3;
  return compressed;
}

/**
 * A YAML literal block that reads back as exactly `content`, or null when the
 * content needs more than the plain form can say: a literal block keeps one final
 * newline, cannot start with indentation, and carries no control characters.
 */
export function literalBlock(content: string): string | null {
  if (!/^[\t\x20-\x7e\n]*$/.test(content)) return null;
  if (!content.endsWith("\n") || content.endsWith("\n\n") || /^[\s]/.test(content)) return null;
  const lines = content.slice(0, -1).split("\n");
  return `|\n${lines.map((line) => (line === "" ? "" : `${CONTENT_INDENT}${line}`)).join("\n")}`;
}

/**
 * The file as cloud-init writes it: as readable text whenever YAML can carry it
 * exactly, since the whole user-data is compressed on its way (userDataBytes)
 * and text compresses far better there than gzip inside gzip; gz+b64 otherwise.
 */
function writeFile(artifact: Artifact, hostPath: string): WriteFile {
  if (!HOST_PATH.test(hostPath)) throw new Error(`natgw bug: unsafe host path ${JSON.stringify(hostPath)}`);
  const plain = literalBlock(artifact.content);
  if (plain !== null) return { path: hostPath, permissions: artifact.fileMode, compressed: false, content: plain };
  return { path: hostPath, permissions: artifact.fileMode, compressed: true, content: gzip(artifact.content).toString("base64") };
}

/**
 * The cloud-config lines Terraform appends to a member's cloud-init.yaml: the SSH
 * host key that Terraform makes for the member (tls_private_key) and pins in the
 * config push's connection, so the API token goes only to that host. The values
 * are JSON strings (Terraform's jsonencode), which YAML reads as double-quoted
 * scalars. cloud-init (cc_ssh) deletes the image's host keys (ssh_deletekeys)
 * and, when ssh_keys is given, generates no others, so sshd offers only the
 * pinned ED25519 key.
 */
export function hostKeyCloudConfig(privateKeyJson: string, publicKeyJson: string): string {
  return ["ssh_deletekeys: true", "ssh_keys:", `  ed25519_private: ${privateKeyJson}`, `  ed25519_public: ${publicKeyJson}`, ""].join("\n");
}

/** Bytes that look random, as key material does: sha256 in counter mode over a fixed seed. */
function sampleKeyMaterial(length: number): Buffer {
  const blocks = Array.from({ length: Math.ceil(length / 32) }, (_, index) => createHash("sha256").update(`natgw sample host key ${index}`).digest());
  return Buffer.concat(blocks).subarray(0, length);
}

/**
 * A stand-in of the same size for the key Terraform makes, to size the user-data
 * before any key exists; random bytes compress no better than key material. An
 * ED25519 key in OpenSSH form (golang.org/x/crypto/ssh, empty comment) is a
 * 234-byte blob, PEM-encoded in 64-character lines (Go's encoding/pem); its
 * public key is `ssh-ed25519 ` and 51 bytes in base64, with a final newline.
 */
export const SAMPLE_HOST_KEY = {
  privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${sampleKeyMaterial(234)
    .toString("base64")
    .replace(/.{64}/g, "$&\n")}\n-----END OPENSSH PRIVATE KEY-----\n`,
  publicKey: `ssh-ed25519 ${sampleKeyMaterial(51).toString("base64")}\n`,
};

/**
 * Terraform's base64gzip (Go's compress/gzip at its default level) comes out
 * larger than zlib at level 9: 0.8% on natgw's cloud-configs (26,484 against
 * 26,264 bytes, Terraform 1.11). The estimate adds 2%, and a test compares it
 * with what Terraform makes.
 */
const TERRAFORM_GZIP_ALLOWANCE = 1.02;

/**
 * The size of the member's user_data as Terraform sends it: the cloud-config and
 * its host key lines, gzipped and base64-encoded by Terraform's base64gzip.
 * Hetzner's cloud-init datasource decodes base64 user-data and cloud-init unpacks
 * gzip (DataSourceHetzner: "user can provide base64 encoded (possibly gzipped)
 * data"), so a member's whole configuration fits the 32 KiB limit with room to
 * spare: about 25 KB instead of 32 KB with files compressed one by one.
 */
export function userDataBytes(cloudConfig: string): number {
  const sent = cloudConfig + hostKeyCloudConfig(JSON.stringify(SAMPLE_HOST_KEY.privateKey), JSON.stringify(SAMPLE_HOST_KEY.publicKey));
  return Math.ceil(gzip(sent).toString("base64").length * TERRAFORM_GZIP_ALLOWANCE);
}

const UNIT_DIR = "/etc/systemd/system/";
const ORDERING = /^(After|Requires|Requisite|BindsTo|Wants|PartOf|Before)=(.*)$/gm;

/**
 * The units to enable, each after the units it names in After=, Requires= and the
 * like (Before= the other way round), ties by name. They are the .service and
 * .timer files directly in /etc/systemd/system plus the packaged units natgw
 * configures; a service its own timer starts is left to the timer, and the timer
 * inherits that service's ordering. Drop-ins (<unit>.d/*.conf) add to their unit.
 */
export function unitStartOrder(files: readonly { hostPath: string; content: string }[], packaged: readonly string[]): string[] {
  const texts = new Map<string, string>(packaged.map((unit) => [unit, ""]));
  for (const { hostPath, content } of files) {
    const name = hostPath.startsWith(UNIT_DIR) ? hostPath.slice(UNIT_DIR.length) : "";
    if (/^[A-Za-z0-9_.@-]+\.(service|timer)$/.test(name)) texts.set(name, `${texts.get(name) ?? ""}${content}\n`);
  }
  for (const { hostPath, content } of files) {
    const dropIn = /^([A-Za-z0-9_.@-]+\.(?:service|timer))\.d\/[^/]+\.conf$/.exec(hostPath.slice(UNIT_DIR.length));
    if (hostPath.startsWith(UNIT_DIR) && dropIn && texts.has(dropIn[1]!)) texts.set(dropIn[1]!, `${texts.get(dropIn[1]!)}${content}\n`);
  }
  for (const unit of [...texts.keys()]) {
    const timer = unit.replace(/\.service$/, ".timer");
    if (unit.endsWith(".service") && texts.has(timer)) {
      texts.set(timer, `${texts.get(timer)}${texts.get(unit)}`);
      texts.delete(unit);
    }
  }
  const after = new Map<string, Set<string>>([...texts.keys()].map((unit) => [unit, new Set<string>()]));
  for (const [unit, text] of texts) {
    for (const [, key, value] of text.matchAll(ORDERING)) {
      for (const other of value!.trim().split(/\s+/)) {
        if (!texts.has(other) || other === unit) continue;
        if (key === "Before") after.get(other)!.add(unit);
        else after.get(unit)!.add(other);
      }
    }
  }
  const order: string[] = [];
  while (order.length < after.size) {
    const ready = [...after].filter(([unit, needs]) => !order.includes(unit) && [...needs].every((need) => order.includes(need)));
    if (ready.length === 0) throw new Error(`natgw bug: units order each other in a cycle: ${[...after.keys()].join(", ")}`);
    order.push(ready.map(([unit]) => unit).sort()[0]!);
  }
  return order;
}

/** Debian packages the member's files need (python3 for the takeover program; cloud-init itself brings it). */
function packages(context: MemberContext): string[] {
  const names = ["conntrack", "curl", "jq", "nftables", "python3"];
  if (isHA(context)) names.push("keepalived", "conntrackd");
  if (context.gateway.metrics.enabled) names.push("prometheus-node-exporter");
  return names.sort();
}

/**
 * The commands after the files are written: reload systemd so it sees the units,
 * load kernel modules and apply the kernel settings, then enable and start the
 * units in dependency order.
 * Starts are queued (--no-block): the data-plane units need /etc/natgw/cloud.json,
 * which Terraform pushes over SSH once the server exists, so a start that fails
 * now must not fail the whole first boot; systemd orders the queued jobs by the
 * units' After= anyway, and the enabled units start in order at every boot.
 */
function commands(context: MemberContext, files: readonly { hostPath: string; content: string }[]): string[][] {
  const packaged = [
    ...(isHA(context) ? ["keepalived.service", "conntrackd.service"] : []),
    ...(context.gateway.metrics.enabled ? ["prometheus-node-exporter.service"] : []),
  ];
  // Kernel settings of a module (net.netfilter.nf_conntrack_*) exist only once it
  // is loaded: load the member's modules-load.d files before applying sysctl.d.
  const modules = files.some((file) => /^\/etc\/modules-load\.d\/[^/]+\.conf$/.test(file.hostPath));
  return [
    ["systemctl", "daemon-reload"],
    ...(modules ? [["systemctl", "restart", "systemd-modules-load.service"]] : []),
    ["sysctl", "--system"],
    ...unitStartOrder(files, packaged).map((unit) => ["systemctl", "enable", "--now", "--no-block", unit]),
  ];
}

/**
 * The member's cloud-init user-data: packages, the member's host files but those
 * pushed only (PUSHED_ONLY) with their path, mode and owner, and the commands that
 * start it all. It holds no secret (the metadata service serves user-data to
 * anything on the host): the API token and cloud.json arrive later over SSH from
 * Terraform, with config.json and the ruleset.
 */
export function cloudInitUserData(context: MemberContext, artifacts: readonly Artifact[]): UserData {
  const prefix = `hosts/${context.member.name}`;
  const files = artifacts.map((artifact) => {
    if (!artifact.path.startsWith(`${prefix}/`)) throw new Error(`natgw bug: ${artifact.path} is not a file of ${prefix}`);
    return { artifact, hostPath: artifact.path.slice(prefix.length) };
  });
  const writeFiles = files
    .filter(({ hostPath }) => !PUSHED_ONLY.has(hostPath) && hostPath !== HOST_PATHS.baseline)
    .map(({ artifact, hostPath }) => writeFile(artifact, hostPath));
  const baseline = files.find(({ hostPath }) => hostPath === HOST_PATHS.baseline);
  const baselineContent = baseline && literalBlock(baseline.artifact.content);
  if (!baseline || !baselineContent) throw new Error(`natgw bug: ${prefix} has no baseline ruleset that YAML can carry as text`);
  const content = render("cloud-init.yaml.njk", {
    gateway: label(context.gateway.name),
    member: label(context.member.name),
    packages: packages(context),
    files: writeFiles,
    baseline: {
      path: HOST_PATHS.baseline,
      directory: posix.dirname(HOST_PATHS.baseline),
      permissions: baseline.artifact.fileMode,
      content: baselineContent,
    },
    // A unit that comes only with the push is not there yet to enable: reconcile enables it.
    commands: commands(
      context,
      files.filter(({ hostPath }) => !PUSHED_ONLY.has(hostPath)).map(({ artifact, hostPath }) => ({ hostPath, content: artifact.content })),
    ),
  });
  const path = `${prefix}/cloud-init.yaml`;
  const bytes = userDataBytes(content);
  if (bytes > USER_DATA_LIMIT_BYTES) {
    const largest = [...writeFiles]
      .sort((a, b) => b.content.length - a.content.length || (a.path < b.path ? -1 : 1))
      .slice(0, 2)
      .map((file) => `${file.path} (${file.content.length.toLocaleString("en-US")} bytes${file.compressed ? " compressed" : ""})`);
    const diagnostic = diagnose(
      "userDataTooLarge",
      {
        member: context.member.name,
        bytes: bytes.toLocaleString("en-US"),
        limit: USER_DATA_LIMIT_BYTES.toLocaleString("en-US"),
        largest: largest.join(" and "),
      },
      { file: path, line: 1, column: 1, pointer: "" },
    );
    return { artifact: null, diagnostics: [diagnostic] };
  }
  return {
    artifact: { path, role: "cloud-init", gateway: context.gateway.name, member: context.member.name, fileMode: "0644", content },
    diagnostics: [],
  };
}
