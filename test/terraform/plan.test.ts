import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildExample } from "../support/artifacts.js";
import { missingTools } from "../support/tools.js";
import { evaluateOutputs } from "../support/terraform.js";

// A pipeline plans on every pull request with the API token only: the SSH key
// matters only when the push runs, at apply. Real Terraform decides which
// variables a plan needs; the stack's own variable blocks, without its
// resources, need no provider, so this runs offline.
const skip = missingTools("terraform");
const scratch = mkdtempSync(join(tmpdir(), "natgw-plan-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const TOKEN = "t".repeat(64);

describe.skipIf(skip)(`what terraform plan asks for${skip ? ` (skipped: ${skip})` : ""}`, () => {
  const artifacts = buildExample("ha");
  const configuration = (path: string) => JSON.parse(artifacts.find((artifact) => artifact.path === path)!.content);

  it("the stack plans with hcloud_token alone; without a key the push asks the SSH agent", () => {
    const stack = configuration("stacks/prod-egress/cdk.tf.json");
    const result = evaluateOutputs(
      join(scratch, "stack"),
      { variable: stack.variable, output: { agent: { value: "${var.ssh_private_key == null}", sensitive: true } } },
      { hcloud_token: TOKEN },
    );
    expect(result).toEqual({ values: { agent: true } });
    expect(stack.resource.terraform_data["prod-egress-1"].connection.private_key).toBe("${var.ssh_private_key}");
  });

  it("the module needs only the members' token", () => {
    const module = configuration("modules/prod-egress/main.tf.json");
    const result = evaluateOutputs(
      join(scratch, "module"),
      { variable: module.variable, output: { network: { value: "${var.network_id}" } } },
      { member_hcloud_token: TOKEN },
    );
    expect(result).toEqual({ values: { network: 4711 } });
  });

  it("catches a required variable: the same run without the token fails", () => {
    const stack = configuration("stacks/prod-egress/cdk.tf.json");
    const result = evaluateOutputs(join(scratch, "missing"), { variable: stack.variable, output: { x: { value: "x" } } }, {});
    expect(result).toMatchObject({ error: expect.stringMatching(/No value for required variable[\s\S]*hcloud_token/) });
  });
});
