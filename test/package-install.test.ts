import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { missingTools } from "./support/tools.js";
import { missingShared, VALIDATE_SCRIPT } from "./support/terraform.js";

// natgw as a user gets it: `npm pack`, then installed into projects that cannot
// see this repository (under the system's temporary directory), each with its
// own cdktf. Their dependencies come from npm's cache where `npm ci` put them,
// or from the registry.
const skip = missingShared(VALIDATE_SCRIPT) ?? missingTools("npm", "terraform", "openssl");
const scratch = mkdtempSync(join(tmpdir(), "natgw-package-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const repository = resolve(".");
/** The cdktf CLI of this repository, a tool like terraform: it runs each project's own app and cdktf. */
const cdktfCli = resolve("node_modules/.bin/cdktf");

let tarball = "";

function run(command: string, args: readonly string[], cwd: string, env: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, encoding: "utf8", env: { ...process.env, CHECKPOINT_DISABLE: "1", CI: "true", ...env }, timeout: 600_000 });
}

function ok(result: SpawnSyncReturns<string>, what: string): string {
  expect(result.status, `${what}:\n${result.stdout}\n${result.stderr}`).toBe(0);
  return result.stdout;
}

/** A project of its own: package.json, natgw from the tarball and the given packages. */
function project(name: string, packageJson: Record<string, unknown>, packages: readonly string[]): string {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), `${JSON.stringify({ name, version: "1.0.0", private: true, ...packageJson }, null, 2)}\n`);
  ok(run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", tarball, ...packages], dir), `npm install in ${name}`);
  return dir;
}

function validate(dir: string): string {
  const result = spawnSync(VALIDATE_SCRIPT, ["--human", dir], { encoding: "utf8" });
  expect(result.status, `${dir}:\n${result.stdout}${result.stderr}`).toBe(0);
  return result.stdout;
}

/** `cdktf synth` as a user runs it, then terraform validate on every stack it wrote (cdktf's metadata.json is no Terraform file). */
function synthAndValidate(dir: string, ...args: string[]): string[] {
  ok(run(cdktfCli, ["synth", ...args], dir), `cdktf synth ${args.join(" ")} in ${dir}`);
  const stacks = readdirSync(join(dir, "cdktf.out", "stacks"));
  for (const stack of stacks) {
    const copy = join(dir, `validate-${stack}${args.join("")}`);
    mkdirSync(copy, { recursive: true });
    for (const file of readdirSync(join(dir, "cdktf.out", "stacks", stack)).filter((file) => file.startsWith("cdk.tf"))) {
      copyFileSync(join(dir, "cdktf.out", "stacks", stack, file), join(copy, file));
    }
    validate(copy);
  }
  return stacks.sort();
}

/** A user's app: a stack of their own with two NatGateways, and natgw's own stack beside it. */
const APP_BODY = `
const app = new App();
const stack = new TerraformStack(app, "platform");
const token = new TerraformVariable(stack, "hcloud_token", { type: "string", sensitive: true });
new HcloudProvider(stack, "hcloud", { token: token.stringValue });
new TlsProvider(stack, "tls");
const egress = new NatGateway(stack, "egress", { spec: { files: ["specs/ha.yaml"] }, memberHcloudToken: token.stringValue, network: 4711 });
const batch = new NatGateway(stack, "batch", { spec: { files: ["specs/ports.yaml"] }, memberHcloudToken: token.stringValue });
new TerraformOutput(stack, "allowlist", { value: [...egress.egressIps, ...batch.egressIps].map((ip) => ip.address) });
new NatGatewayStack(app, "dev-egress", { files: ["specs/single.yaml"] });
app.synth();
`;

/** The example specs (the files at the top of examples/), under specs/. */
function copySpecs(dir: string): void {
  mkdirSync(join(dir, "specs"));
  for (const file of readdirSync(join(repository, "examples")).filter((name) => /\.(ya?ml|json)$/.test(name))) {
    copyFileSync(join(repository, "examples", file), join(dir, "specs", file));
  }
}

function cdktfJson(dir: string, app: string): void {
  writeFileSync(join(dir, "cdktf.json"), JSON.stringify({ language: "typescript", app, output: "cdktf.out", context: {} }, null, 2));
}

describe.skipIf(skip)(`the package, installed${skip ? ` (skipped: ${skip})` : ""}`, () => {
  beforeAll(() => {
    // The build already ran (test/support/build.ts); prepack would only repeat it.
    const packed = ok(run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", scratch], repository), "npm pack");
    tarball = join(scratch, (JSON.parse(packed) as { filename: string }[])[0]!.filename);
  }, 600_000);

  it("holds a license and everything build needs, and nothing of the tests", () => {
    const listed = ok(run("tar", ["-tzf", tarball], scratch), "tar").split("\n");
    expect(listed).toEqual(expect.arrayContaining(["package/LICENSE", "package/templates/etc/natgw/config.json.njk", "package/schema/natgw.schema.json"]));
    expect(listed.some((path) => path.startsWith("package/programs/"))).toBe(true);
    expect(listed.filter((path) => path.startsWith("package/test/") || path.startsWith("package/src/"))).toEqual([]);
  });

  it("validates and builds the examples with npx natgw, without cdktf, and the build is valid Terraform", () => {
    const dir = project("cli", {}, []);
    copySpecs(dir);
    const specs = ["ha", "single", "policies", "ports"].map((name) => `specs/${name}.yaml`);
    expect(ok(run("npx", ["natgw", "validate", ...specs], dir), "natgw validate")).toMatch(/^valid: 4 files, 4 gateways/m);
    ok(run("npx", ["natgw", "build", ...specs, "--out", "out"], dir), "natgw build");
    expect(readdirSync(join(dir, "node_modules")).filter((name) => name === "cdktf" || name === "constructs")).toEqual([]);
    for (const stack of readdirSync(join(dir, "out", "stacks"))) validate(join(dir, "out", "stacks", stack));
    expect(ok(run("npx", ["natgw", "schema", "--path"], dir), "natgw schema --path").trim()).toBe(join(dir, "node_modules", "natgw", "schema", "natgw.schema.json"));
  });

  it("works in the stock cdktf init TypeScript project (CommonJS, TypeScript 5, cdktf 0.21), JSON and HCL", () => {
    const dir = project("cdktf-init", { main: "main.js", scripts: { build: "tsc" } }, ["cdktf@0.21.0", "constructs@^10.3.0", "typescript@~5.9.0", "@types/node@^20"]);
    copySpecs(dir);
    const template = join(repository, "node_modules/cdktf-cli/bundle/templates/typescript");
    copyFileSync(join(template, "tsconfig.json"), join(dir, "tsconfig.json"));
    writeFileSync(
      join(dir, "main.ts"),
      `import { App, TerraformOutput, TerraformStack, TerraformVariable } from "cdktf";\nimport { HcloudProvider, NatGateway, NatGatewayStack, TlsProvider } from "natgw/cdktf";\n${APP_BODY}`,
    );
    ok(run("npx", ["tsc"], dir), "tsc with the template's tsconfig");
    cdktfJson(dir, "node main.js");
    expect(synthAndValidate(dir)).toEqual(["dev-egress", "platform"]);
    rmSync(join(dir, "cdktf.out"), { recursive: true });
    expect(synthAndValidate(dir, "--hcl")).toEqual(["dev-egress", "platform"]);
  });

  it("works in an ES module project on cdktf 0.20, with one copy of cdktf", () => {
    const dir = project("cdktf-020-esm", { type: "module" }, ["cdktf@0.20.12", "constructs@^10.3.0"]);
    copySpecs(dir);
    writeFileSync(
      join(dir, "main.js"),
      `import { App, TerraformOutput, TerraformStack, TerraformVariable } from "cdktf";\nimport { HcloudProvider, NatGateway, NatGatewayStack, TlsProvider } from "natgw/cdktf";\n${APP_BODY}`,
    );
    cdktfJson(dir, "node main.js");
    expect(synthAndValidate(dir)).toEqual(["dev-egress", "platform"]);
    expect(run("npm", ["ls", "cdktf", "--all", "--parseable"], dir).stdout.trim().split("\n")).toHaveLength(1);
    expect(readFileSync(join(dir, "cdktf.out", "stacks", "platform", "cdk.tf.json"), "utf8")).toContain('"version": "0.20.12"');
  });

  it("works on cdktn, the maintained fork of cdktf, through natgw/cdktn, in a CommonJS project without cdktf", () => {
    const dir = project("cdktn", {}, ["cdktn@0.24.0", "constructs@~10.7.0"]);
    copySpecs(dir);
    writeFileSync(
      join(dir, "main.js"),
      `const { App, TerraformOutput, TerraformStack, TerraformVariable } = require("cdktn");\nconst { HcloudProvider, NatGateway, NatGatewayStack, TlsProvider } = require("natgw/cdktn");\n${APP_BODY}`,
    );
    cdktfJson(dir, "node main.js");
    expect(synthAndValidate(dir)).toEqual(["dev-egress", "platform"]);
    expect(run("npm", ["ls", "cdktf", "--all", "--parseable"], dir).stdout.trim()).toBe("");
    expect(readFileSync(join(dir, "cdktf.out", "stacks", "platform", "cdk.tf.json"), "utf8")).toContain('"version": "0.24.0"');
  });
});
