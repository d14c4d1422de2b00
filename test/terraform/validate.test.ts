import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildExample } from "../support/artifacts.js";
import { missingTools } from "../support/tools.js";
import { exampleStacks, missingShared, VALIDATE_SCRIPT } from "../support/terraform.js";

// Real `terraform init` + `terraform validate` on every example's stack, offline:
// validate.sh installs a plugin that serves the hcloud and tls providers' schemas
// in place of the providers, so Terraform core checks the configuration as it would with
// the real one.
const skip = missingShared(VALIDATE_SCRIPT) ?? missingTools("terraform", "openssl");
const scratch = mkdtempSync(join(tmpdir(), "natgw-terraform-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Validation {
  readonly status: number | null;
  readonly valid: boolean | undefined;
  readonly errors: string[];
  readonly stderr: string;
}

function validate(name: string, stack: unknown): Validation {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "cdk.tf.json"), typeof stack === "string" ? stack : JSON.stringify(stack, null, 2));
  const result = spawnSync(VALIDATE_SCRIPT, [dir], { encoding: "utf8" });
  let report: { valid?: boolean; diagnostics?: { severity: string; summary: string; detail: string }[] } = {};
  try {
    report = JSON.parse(result.stdout);
  } catch {
    // Exit 2 (setup problem) prints no JSON; the status and stderr say why.
  }
  const errors = (report.diagnostics ?? []).filter((d) => d.severity === "error").map((d) => `${d.summary}: ${d.detail}`);
  return { status: result.status, valid: report.valid, errors, stderr: result.stderr };
}

describe.skipIf(skip)(`terraform validate${skip ? ` (skipped: ${skip})` : ""}`, () => {
  const stacks = skip ? [] : exampleStacks();

  for (const { example, gateway, text } of stacks) {
    it(`${example}: ${gateway}'s cdk.tf.json is valid Terraform for hcloud 1.68 and tls 4.1`, () => {
      const result = validate(`${example}-${gateway}`, text);
      expect(result.errors).toEqual([]);
      expect(result.stderr).not.toMatch(/error/i);
      expect(result.status).toBe(0);
      expect(result.valid).toBe(true);
    });
  }

  it("fails on a broken stack: a misspelled argument, a missing one and a reference to nothing", () => {
    const stack = structuredClone(stacks.find(({ gateway }) => gateway === "dev-egress")!.json);
    const server = stack.resource.hcloud_server["dev-egress-1"];
    server.server_typ = server.server_type;
    delete server.server_type;
    stack.resource.hcloud_network_route.route_0_0_0_0_0.network_id = "${hcloud_network.missing.id}";
    const result = validate("broken", stack);
    expect(result.status).toBe(1);
    expect(result.valid).toBe(false);
    expect(result.errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Missing required argument: The argument "server_type" is required/),
        expect.stringMatching(/^Extraneous JSON object property: No argument or block type is named "server_typ"/),
        expect.stringMatching(/^Reference to undeclared resource: A managed resource "hcloud_network" "missing"/),
      ]),
    );
  });

  it("a pushed file reaches the host byte for byte: Terraform evaluates each provisioner's content back to the host file", () => {
    // Terraform JSON strings are templates; natgw doubles `${` and `%{` in host
    // files. Evaluating the same strings as outputs (no provider needed) shows
    // what the file provisioner would write.
    const artifacts = buildExample("ha");
    const stack = JSON.parse(artifacts.find((artifact) => artifact.path === "stacks/prod-egress/cdk.tf.json")!.content);
    const provisioners: { file?: { destination: string; content: string } }[] = stack.resource.terraform_data["prod-egress-1"].provisioner;
    const hostFile = (destination: string) => artifacts.find((artifact) => artifact.path === `hosts/prod-egress-1${destination.replace("/var/lib/natgw/push", "")}`);
    const files = provisioners.flatMap((p) => (p.file && hostFile(p.file.destination) ? [p.file] : []));
    expect(files.length).toBeGreaterThan(5);
    const outputs = Object.fromEntries(files.map((file, index) => [`file_${index}`, { value: file.content }]));
    const dir = join(scratch, "round-trip");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "main.tf.json"), JSON.stringify({ output: outputs }));
    const env = { ...process.env, CHECKPOINT_DISABLE: "1", TF_IN_AUTOMATION: "1" };
    for (const args of [["init", "-input=false"], ["apply", "-auto-approve", "-input=false"]]) {
      const run = spawnSync("terraform", [`-chdir=${dir}`, ...args], { encoding: "utf8", env });
      expect(run.status, run.stderr).toBe(0);
    }
    const shown = spawnSync("terraform", [`-chdir=${dir}`, "output", "-json"], { encoding: "utf8", env });
    const values = JSON.parse(shown.stdout) as Record<string, { value: string }>;
    files.forEach((file, index) => {
      const original = hostFile(file.destination)!;
      expect(values[`file_${index}`]!.value, file.destination).toBe(original.content);
    });
  });
});
