import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CLOUD_INIT_WAIT_SECONDS, PUSH_CHECK_LIST } from "../../src/emit/terraform/push-script.js";
import { buildExample } from "../support/artifacts.js";
import { evaluateOutputs } from "../support/terraform.js";
import { missingTools } from "../support/tools.js";

// The config push must not hide its own failures: its scripts stop at the first
// failed command, every pushed file is checked by sha256 on the member before
// natgw-ctl reconcile runs, the wait for cloud-init has a limit, and the SSH
// connection accepts only the member's own host key.
const scratch = mkdtempSync(join(tmpdir(), "natgw-push-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const member = "prod-egress-1";
const artifacts = buildExample("ha");
const stack = JSON.parse(artifacts.find((artifact) => artifact.path === "stacks/prod-egress/cdk.tf.json")!.content);
const push = stack.resource.terraform_data[member];
const [prepare, apply] = push.provisioner.flatMap((p: Record<string, any>) => (p["remote-exec"] ? [p["remote-exec"].inline as string[]] : []));
const staged: { destination: string; content: string }[] = push.provisioner.flatMap((p: Record<string, any>) => (p.file ? [p.file] : []));
const hostArtifacts = artifacts.filter((artifact) => artifact.member === member && artifact.role !== "cloud-init");
const hostPathOf = (path: string) => path.slice(`hosts/${member}`.length);
const STAGING = dirname(PUSH_CHECK_LIST);
const checkListText = staged.find((file) => file.destination === PUSH_CHECK_LIST)!.content;
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

describe("the config push", () => {
  it("runs scripts that name their shell and start with set -eu, with no pipeline or && list outside a condition", () => {
    expect([prepare, apply].map((script) => script.length)).toEqual([expect.any(Number), expect.any(Number)]);
    for (const script of [prepare!, apply!]) {
      expect(script.slice(0, 2)).toEqual(["#!/bin/sh", "set -eu"]);
      for (const line of script.filter((line) => !line.startsWith("if "))) expect(line).not.toMatch(/&&|(?<!\|)\|(?!\|)/);
    }
  });

  it(`waits for cloud-init at most ${CLOUD_INIT_WAIT_SECONDS} s and says so when it did not finish`, () => {
    expect(prepare).toContain(`timeout ${CLOUD_INIT_WAIT_SECONDS} cloud-init status --wait >/dev/null 2>&1 || cloud_init=$?`);
    expect(prepare!.join("\n")).toContain(`cloud-init did not finish within ${CLOUD_INIT_WAIT_SECONDS} s on ${member}`);
  });

  it("checks every pushed file by sha256 once in place and before natgw-ctl reconcile; the host files' hashes are those of out/hosts", () => {
    const entries = checkListText.split("\n").filter((line) => line !== "").map((line) => /^(\S+) {2}(\/\S+)$/.exec(line)!.slice(1));
    const listed = new Map(entries.map(([hash, path]) => [path!, hash!]));
    const pushedPaths = staged.filter((file) => file.destination !== PUSH_CHECK_LIST).map((file) => file.destination.slice(STAGING.length));
    expect([...listed.keys()].sort()).toEqual([...pushedPaths].sort());
    expect(hostArtifacts.length).toBeGreaterThan(5);
    for (const artifact of hostArtifacts) expect(listed.get(hostPathOf(artifact.path)), artifact.path).toBe(sha256(artifact.content));
    expect(listed.get("/etc/natgw/cloud.json")).toBe("${sha256(local.cloud_json)}");
    expect(listed.get("/etc/natgw/token")).toBe("${sha256(local.member_hcloud_token)}");
    const check = apply!.findIndex((line) => line.includes(`sha256sum --check --quiet --strict ${PUSH_CHECK_LIST}`));
    const lastMove = apply!.findLastIndex((line) => line.startsWith("mv -f "));
    const reconcile = apply!.indexOf("/usr/local/sbin/natgw-ctl reconcile");
    expect(lastMove).toBeGreaterThan(0);
    expect(check).toBeGreaterThan(lastMove);
    expect(reconcile).toBeGreaterThan(check);
  });

  it("pins the member's own ED25519 host key, which its user_data installs and whose replacement replaces the server", () => {
    expect(push.connection.host_key).toBe(`\${tls_private_key.${member}.public_key_openssh}`);
    expect(stack.resource.tls_private_key[member].algorithm).toBe("ED25519");
    const server = stack.resource.hcloud_server[member];
    expect(server.user_data).toBe(`\${base64gzip(local.user_data_${member})}`);
    expect(stack.locals[`user_data_${member}`]).toContain(`\n  ed25519_private: \${jsonencode(tls_private_key.${member}.private_key_openssh)}\n`);
    expect(server.lifecycle).toEqual({ ignore_changes: ["user_data"], replace_triggered_by: [`tls_private_key.${member}`] });
  });

  it("pushes member_hcloud_token when set and hcloud_token otherwise, and keeps hashes of the token out of the trigger", () => {
    expect(staged.find((file) => file.destination === `${STAGING}/etc/natgw/token`)!.content).toBe("${local.member_hcloud_token}");
    expect(stack.locals.member_hcloud_token).toBe("${coalesce(var.member_hcloud_token, var.hcloud_token)}");
    expect(stack.variable.member_hcloud_token).toMatchObject({ default: null, sensitive: true, type: "string" });
    expect(JSON.stringify(push.triggers_replace)).not.toMatch(/token/);
  });
});

const TOKEN = "T".repeat(64);
const MEMBER_TOKEN = "M".repeat(64);
const CLOUD_JSON = '{"floatingIPs":{},"networkId":1,"servers":{}}';

/** The stack's variables and the locals the push reads, with a fixed cloud.json; outputs: what the token, cloud.json and check list files become. */
function pushValues(name: string, variables: Record<string, string>) {
  const contentOf = (path: string) => staged.find((file) => file.destination === `${STAGING}${path}`)!.content;
  return evaluateOutputs(
    join(scratch, name),
    {
      variable: stack.variable,
      locals: { member_hcloud_token: stack.locals.member_hcloud_token, cloud_json: CLOUD_JSON },
      output: {
        token: { value: contentOf("/etc/natgw/token"), sensitive: true },
        cloud_json: { value: contentOf("/etc/natgw/cloud.json") },
        check_list: { value: checkListText, sensitive: true },
      },
    },
    { hcloud_token: TOKEN, ssh_private_key: "unused", ...variables },
  );
}

/** The script's absolute paths moved under `root`, natgw-ctl reconcile replaced by an echo. */
function inRoot(text: string, root: string): string {
  return text.replace(/^\/usr\/local\/sbin\/natgw-ctl reconcile$/m, "echo natgw-ctl reconcile ran").replace(/(^|\s)\/(etc|usr|var)\//gm, `$1${root}/$2/`);
}

interface Member {
  readonly root: string;
  run(script: readonly string[]): { status: number | null; output: string };
}

/** A scratch root with stand-ins for cloud-init (exiting `cloudInitExit`) and systemctl on PATH. */
function scratchMember(name: string, cloudInitExit = 0): Member {
  const root = join(scratch, name);
  const bin = join(root, "bin");
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, "cloud-init"), `#!/bin/sh\necho "cloud-init $*: stand-in" >&2\nexit ${cloudInitExit}\n`);
  writeFileSync(join(bin, "systemctl"), '#!/bin/sh\necho "systemctl $*"\n');
  for (const standIn of ["cloud-init", "systemctl"]) chmodSync(join(bin, standIn), 0o755);
  return {
    root,
    run(script) {
      const file = join(root, `script-${Math.random().toString(36).slice(2)}.sh`);
      writeFileSync(file, `${inRoot(script.join("\n"), root)}\n`);
      const result = spawnSync("sh", [file], { encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
      return { status: result.status, output: result.stdout + result.stderr };
    },
  };
}

const skip = missingTools("terraform", "sha256sum", "timeout");
describe.skipIf(skip)(`the config push on a member (a scratch root)${skip ? ` (skipped: ${skip})` : ""}`, () => {
  const evaluated = skip ? { error: skip } : pushValues("values", {});
  const values = "values" in evaluated ? (evaluated.values as Record<string, string>) : {};

  it("Terraform gives the pushed token, cloud.json and check list; member_hcloud_token wins when set, and must have 64 characters", () => {
    expect(evaluated).toHaveProperty("values");
    expect(values.token).toBe(TOKEN);
    expect(values.cloud_json).toBe(CLOUD_JSON);
    const own = pushValues("member-token", { member_hcloud_token: MEMBER_TOKEN });
    expect("values" in own && own.values.token).toBe(MEMBER_TOKEN);
    const short = pushValues("short-token", { member_hcloud_token: "short" });
    expect("error" in short && short.error).toMatch(/exactly 64 characters/);
  });

  /** Runs the prepare script, stages every file as Terraform's file provisioners would, then `change` them, then runs the apply script. */
  function pushTo(name: string, change: (root: string) => void = () => {}, cloudInitExit = 0) {
    const host = scratchMember(name, cloudInitExit);
    const prepared = host.run(prepare!);
    if (prepared.status !== 0) return { prepared, applied: null, root: host.root };
    const contents = new Map<string, string>([
      ...hostArtifacts.map((artifact) => [hostPathOf(artifact.path), artifact.content] as const),
      ["/etc/natgw/cloud.json", values.cloud_json!],
      ["/etc/natgw/token", values.token!],
    ]);
    for (const file of staged) {
      const content = file.destination === PUSH_CHECK_LIST ? inRoot(values.check_list!, host.root) : contents.get(file.destination.slice(STAGING.length))!;
      writeFileSync(join(host.root, file.destination), content);
    }
    change(host.root);
    return { prepared, applied: host.run(apply!), root: host.root };
  }

  it("moves every file into place with its mode, finds every hash right, then reloads systemd and reconciles", () => {
    const { prepared, applied, root } = pushTo("intact");
    expect(prepared.status, prepared.output).toBe(0);
    expect(applied!.status, applied!.output).toBe(0);
    expect(applied!.output).toBe("systemctl daemon-reload\nnatgw-ctl reconcile ran\n");
    expect(readFileSync(join(root, "etc/natgw/token"), "utf8")).toBe(TOKEN);
    expect(statSync(join(root, "etc/natgw/token")).mode & 0o777).toBe(0o600);
    expect(existsSync(join(root, STAGING))).toBe(false);
  });

  for (const [what, path] of [
    ["a host file", "/etc/natgw/ruleset.nft"],
    ["cloud.json", "/etc/natgw/cloud.json"],
    ["the token", "/etc/natgw/token"],
  ] as const) {
    it(`stops before natgw-ctl reconcile when ${what} arrives corrupted, naming it`, () => {
      const { applied } = pushTo(`corrupt-${path.replace(/\W/g, "_")}`, (root) => writeFileSync(join(root, STAGING, path), "corrupted\n"));
      expect(applied!.status).not.toBe(0);
      expect(applied!.output).toContain(`${path}: FAILED`);
      expect(applied!.output).toContain("natgw-ctl reconcile did not run");
      expect(applied!.output).not.toContain("reconcile ran");
    });
  }

  it("stops at a failed install of a file, where the next command used to hide it", () => {
    const { applied } = pushTo("missing", (root) => rmSync(join(root, STAGING, "etc/natgw/config.json")));
    expect(applied!.status).not.toBe(0);
    expect(applied!.output).toMatch(/install: cannot stat .*config\.json/);
    expect(applied!.output).not.toContain("reconcile ran");
  });

  it("fails when cloud-init did not finish in time or reported an error, and only warns when it is degraded (exit 2)", () => {
    const timedOut = pushTo("cloud-init-timeout", undefined, 124).prepared;
    expect(timedOut.status).toBe(1);
    expect(timedOut.output).toContain(`natgw: cloud-init did not finish within ${CLOUD_INIT_WAIT_SECONDS} s on ${member}; see cloud-init status --long`);
    const failed = pushTo("cloud-init-error", undefined, 1).prepared;
    expect(failed.status).toBe(1);
    expect(failed.output).toContain(`natgw: cloud-init reported an error on ${member} (cloud-init status exited 1)`);
    const degraded = pushTo("cloud-init-degraded", undefined, 2);
    expect(degraded.prepared.output).toContain(`natgw: warning: cloud-init finished with recoverable errors on ${member}`);
    expect(degraded.applied!.status, degraded.applied!.output).toBe(0);
  });
});
