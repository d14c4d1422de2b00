import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildExample, EXAMPLES } from "../support/artifacts.js";
import { missingTools } from "../support/tools.js";
import { missingShared, VALIDATE_SCRIPT } from "../support/terraform.js";

// A gateway as a Terraform module (modules/<gateway>/main.tf.json) for a root
// module of the user's own: no provider or backend block, so Terraform allows
// count, for_each and depends_on on it, and inputs for what the root decides.
const skip = missingShared(VALIDATE_SCRIPT) ?? missingTools("terraform", "openssl");
const scratch = mkdtempSync(join(tmpdir(), "natgw-module-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const modules = EXAMPLES.flatMap((example) =>
  buildExample(example)
    .filter((artifact) => artifact.path.startsWith("modules/"))
    .map((artifact) => ({ example, gateway: artifact.gateway!, json: JSON.parse(artifact.content) })),
);

/** The example's artifacts under `dir/natgw`, as `natgw build --out natgw` writes them. */
function buildInto(dir: string, example: string): void {
  for (const artifact of buildExample(example)) {
    const path = join(dir, "natgw", artifact.path);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, artifact.content);
  }
}

function validate(dir: string): { status: number | null; output: string } {
  const run = spawnSync(VALIDATE_SCRIPT, ["--human", dir], { encoding: "utf8" });
  return { status: run.status, output: run.stdout + run.stderr };
}

describe("a Terraform module per gateway", () => {
  it("every gateway has one, with no provider and no backend", () => {
    expect(modules.map((module) => module.gateway).sort()).toEqual(["batch-egress", "dev-egress", "edge-egress", "prod-egress"]);
    for (const { gateway, json } of modules) {
      expect(json.provider, gateway).toBeUndefined();
      expect(json.terraform.backend, gateway).toBeUndefined();
      expect(Object.keys(json.terraform.required_providers).sort()).toEqual(["hcloud", "tls"]);
    }
  });

  it("takes the members' token and, optionally, the SSH key; a gateway on an existing network takes that network's id", () => {
    const byGateway = new Map(modules.map(({ gateway, json }) => [gateway, json]));
    const required = (json: any) => Object.keys(json.variable).filter((name) => !("default" in json.variable[name]));
    for (const json of byGateway.values()) expect(required(json)).toEqual(["member_hcloud_token"]);
    // ha.yaml joins network 4711: the default, which a root module may replace with its own network's id.
    expect(byGateway.get("prod-egress").variable.network_id).toMatchObject({ type: "number", default: 4711 });
    expect(byGateway.get("prod-egress").data.hcloud_network.network).toEqual({ id: "${var.network_id}" });
    // single.yaml creates its network: the module creates it too, and takes no id.
    expect(byGateway.get("dev-egress").variable.network_id).toBeUndefined();
  });

  it.skipIf(skip)(`examples/terraform uses it with for_each and depends_on, and terraform validate accepts it${skip ? ` (skipped: ${skip})` : ""}`, () => {
    const dir = join(scratch, "root");
    mkdirSync(dir, { recursive: true });
    copyFileSync("examples/terraform/main.tf", join(dir, "main.tf"));
    buildInto(dir, "ha");
    const result = validate(dir);
    expect(result.output).toMatch(/The configuration is valid/);
    expect(result.output).not.toMatch(/Backend configuration ignored/);
    expect(result.status, result.output).toBe(0);
  });

  it.skipIf(skip)("a stack is no module: with for_each, Terraform refuses it (why the module exists)", () => {
    const dir = join(scratch, "stack-as-module");
    mkdirSync(dir, { recursive: true });
    buildInto(dir, "ha");
    writeFileSync(
      join(dir, "main.tf"),
      'module "egress" {\n  source   = "./natgw/stacks/prod-egress"\n  for_each = toset(["prod"])\n  hcloud_token = "x"\n}\n',
    );
    const result = validate(dir);
    expect(result.status).toBe(1);
    expect(result.output).toMatch(/Module is incompatible with count, for_each, and depends_on|legacy module/);
  });
});
