import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { App, LocalBackend, TerraformOutput, TerraformResource, TerraformStack, TerraformVariable } from "cdktf";
import { specFiles } from "../../src/cdktf/app.js";
import { NatGateway, NatGatewayStack, HcloudProvider, TlsProvider } from "../../src/cdktf/index.js";
import { buildExample, EXAMPLES } from "../support/artifacts.js";
import { missingShared, VALIDATE_SCRIPT } from "../support/terraform.js";

// `cdktf synth` in a user's repository must give the configuration `natgw build`
// writes: the same blocks and values, with cdktf's own "//" metadata beside
// them. The cdktf CLI runs the `app` command of cdktf.json with the output
// directory in CDKTF_OUTDIR and cdktf.json's context as JSON in
// CDKTF_CONTEXT_JSON; the first tests run natgw's app exactly so, the later ones
// the real CLI (cdktf-cli, a devDependency; CDKTF_CLI names another).
const scratch = mkdtempSync(join(tmpdir(), "natgw-synth-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const appEntry = resolve("bin/natgw-cdktf.js");
const skipValidate = missingShared(VALIDATE_SCRIPT);

/** A user's repository: a cdktf.json naming natgw's app and a spec. */
function repository(name: string, context: Record<string, unknown>): string {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "cdktf.json"), JSON.stringify({ language: "typescript", app: `node ${appEntry}`, output: "cdktf.out", context }, null, 2));
  return dir;
}

/** Runs cdktf.json's app as the cdktf CLI does. */
function runAppAsCdktf(dir: string, env: Record<string, string> = {}) {
  const config = JSON.parse(readFileSync(join(dir, "cdktf.json"), "utf8"));
  return spawnSync("sh", ["-c", config.app], {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, ...env, CDKTF_OUTDIR: join(dir, config.output), CDKTF_CONTEXT_JSON: JSON.stringify(config.context) },
  });
}

/** A configuration without cdktf's "//" metadata. */
function withoutMetadata(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutMetadata);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => key !== "//").map(([key, item]) => [key, withoutMetadata(item)]));
}

/** natgw build's stacks of an example, by gateway, as parsed JSON. */
function builtStacks(example: string): Map<string, unknown> {
  return new Map(
    buildExample(example)
      .filter((artifact) => artifact.path.startsWith("stacks/"))
      .map((artifact) => [artifact.gateway!, JSON.parse(artifact.content)]),
  );
}

/** The stacks under a cdktf output directory, by name, as parsed JSON. */
function synthesizedStacks(outdir: string): Map<string, unknown> {
  return new Map(readdirSync(join(outdir, "stacks")).map((name) => [name, JSON.parse(readFileSync(join(outdir, "stacks", name, "cdk.tf.json"), "utf8"))]));
}

function validate(dir: string): { status: number | null; output: string } {
  const run = spawnSync(VALIDATE_SCRIPT, ["--human", dir], { encoding: "utf8" });
  return { status: run.status, output: run.stdout + run.stderr };
}

/** A synthesized stack directory without cdktf's metadata.json, which is no Terraform file. */
function stackDir(outdir: string, stack: string, name: string): string {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  for (const file of readdirSync(join(outdir, "stacks", stack)).filter((file) => file.startsWith("cdk.tf"))) {
    writeFileSync(join(dir, file), readFileSync(join(outdir, "stacks", stack, file)));
  }
  return dir;
}

describe("cdktf synth gives the configuration natgw build writes", () => {
  for (const example of EXAMPLES) {
    it(`${example}: natgw's app, run as cdktf synth runs it, writes each stack natgw build writes, plus cdktf's metadata`, () => {
      const dir = repository(`app-${example}`, { natgwSpec: resolve(`examples/${example}.yaml`) });
      const run = runAppAsCdktf(dir);
      expect(run.stderr).toBe("");
      expect(run.status).toBe(0);
      const synthesized = synthesizedStacks(join(dir, "cdktf.out"));
      const built = builtStacks(example);
      expect([...synthesized.keys()].sort()).toEqual([...built.keys()].sort());
      for (const [gateway, stack] of synthesized) expect(withoutMetadata(stack), gateway).toEqual(built.get(gateway));
    });
  }

  it("NATGW_SPEC names the spec in place of cdktf.json's context", () => {
    const dir = repository("app-env", { natgwSpec: resolve("examples/ha.yaml") });
    const run = runAppAsCdktf(dir, { NATGW_SPEC: resolve("examples/single.yaml") });
    expect(run.status).toBe(0);
    expect([...synthesizedStacks(join(dir, "cdktf.out")).keys()]).toEqual([...builtStacks("single").keys()]);
  });

  it("a spec with an error synthesizes nothing and prints the diagnostic", () => {
    const spec = join(scratch, "bad.yaml");
    writeFileSync(spec, readFileSync("examples/single.yaml", "utf8").replace("location: nbg1", "location: mars"));
    const dir = repository("app-bad", { natgwSpec: spec });
    const run = runAppAsCdktf(dir);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/bad\.yaml:\d+:\d+: error: .*mars/);
    expect(existsSync(join(dir, "cdktf.out", "manifest.json"))).toBe(false);
  });

  it("NatGatewayStack composes into another app from a spec, with the backend of your choice", () => {
    const app = new App({ outdir: join(scratch, "compose") });
    new NatGatewayStack(app, "edge-egress", { files: ["examples/policies.yaml"] });
    expect(() => new NatGatewayStack(app, "other", { files: ["examples/policies.yaml"], gateway: "nope" })).toThrow(/no NatGateway named "nope"/);
    const own = new NatGatewayStack(app, "own-backend", { files: ["examples/single.yaml"] }, { localBackend: false });
    new LocalBackend(own, { path: "/srv/state/dev-egress.tfstate" });
    app.synth();
    const stacks = synthesizedStacks(join(scratch, "compose"));
    expect(withoutMetadata(stacks.get("edge-egress"))).toEqual(builtStacks("policies").get("edge-egress"));
    expect((stacks.get("own-backend") as any).terraform.backend).toEqual({ local: { path: "/srv/state/dev-egress.tfstate" } });
  });

  it("only src/cdktf imports cdktf: natgw build and the library need none of it", () => {
    const sources = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : [],
      );
    const importers = sources("src").filter((file) => /from "(cdktf|constructs)[/"]/.test(readFileSync(file, "utf8")));
    expect(importers.length).toBeGreaterThan(0);
    expect(importers.filter((file) => !file.startsWith(join("src", "cdktf")))).toEqual([]);
  });

  it("imports no file of cdktf's own beyond its package entry", () => {
    const sources = readdirSync("src/cdktf").map((file) => readFileSync(join("src/cdktf", file), "utf8"));
    expect(sources.join("\n")).not.toMatch(/from "cdktf\//);
  });

  it("reads the spec from context or NATGW_SPEC (paths separated like PATH), the environment first", () => {
    expect(specFiles({}, "natgw.yaml")).toEqual(["natgw.yaml"]);
    expect(specFiles({}, ["a.yaml", "b.yaml"])).toEqual(["a.yaml", "b.yaml"]);
    expect(specFiles({ NATGW_SPEC: "x.yaml:y.yaml" }, "natgw.yaml")).toEqual(["x.yaml", "y.yaml"]);
    expect(specFiles({}, undefined)).toEqual([]);
  });

  const cli = process.env.CDKTF_CLI ?? resolve("node_modules/.bin/cdktf");
  const cliSynth = (dir: string, ...args: string[]) =>
    spawnSync(cli, ["synth", ...args], { cwd: dir, encoding: "utf8", env: { ...process.env, CHECKPOINT_DISABLE: "1", CI: "true" } });

  it("the real cdktf CLI's synth gives the same configuration", () => {
    const dir = repository("cli-policies", { natgwSpec: resolve("examples/policies.yaml") });
    const run = cliSynth(dir);
    expect(run.status, run.stderr + run.stdout).toBe(0);
    for (const [gateway, stack] of synthesizedStacks(join(dir, "cdktf.out"))) expect(withoutMetadata(stack), gateway).toEqual(builtStacks("policies").get(gateway));
  });

  it.skipIf(skipValidate)(`cdktf synth --hcl writes HCL that terraform validate accepts, for every example${skipValidate ? ` (skipped: ${skipValidate})` : ""}`, () => {
    const dir = repository("cli-hcl", { natgwSpec: EXAMPLES.map((example) => resolve(`examples/${example}.yaml`)) });
    const run = cliSynth(dir, "--hcl");
    expect(run.status, run.stderr + run.stdout).toBe(0);
    const stacks = readdirSync(join(dir, "cdktf.out", "stacks"));
    expect(stacks.sort()).toEqual(EXAMPLES.flatMap((example) => [...builtStacks(example).keys()]).sort());
    for (const stack of stacks) {
      const hcl = readFileSync(join(dir, "cdktf.out", "stacks", stack, "cdk.tf"), "utf8");
      // Every host file travels intact: a text with quotes, backslashes and `${` of its own.
      expect(hcl).toContain("CONFIG_FILE=$${NATGW_CONFIG:-$DEFAULT_CONFIG_FILE}");
      const result = validate(stackDir(join(dir, "cdktf.out"), stack, `hcl-${stack}`));
      expect(result.output).toMatch(/The configuration is valid/);
      expect(result.status, `${stack}: ${result.output}`).toBe(0);
    }
  });
});

describe("NatGateway inside a user's own stack", () => {
  /** A user's app: their network, two gateways of their own specs, and outputs that reference the gateways. */
  function userApp(outdir: string): { gateways: NatGateway[] } {
    const app = new App({ outdir });
    const stack = new TerraformStack(app, "platform");
    const token = new TerraformVariable(stack, "hcloud_token", { type: "string", sensitive: true });
    new HcloudProvider(stack, "hcloud", { token: token.stringValue });
    new TlsProvider(stack, "tls");
    const network = new NetworkOfTheUser(stack);
    const gateways = [
      new NatGateway(stack, "egress", { spec: { files: ["examples/ha.yaml"] }, memberHcloudToken: token.stringValue, network }),
      new NatGateway(stack, "batch", { spec: { files: ["examples/ports.yaml"] }, memberHcloudToken: token.stringValue }),
    ];
    new TerraformOutput(stack, "partner_allowlist", { value: gateways.flatMap((gateway) => gateway.egressIps.map((egress) => egress.address)) });
    new TerraformOutput(stack, "route_ids", { value: gateways[0]!.routes.map((route) => route.id) });
    app.synth();
    return { gateways };
  }

  it("prefixes every name with the construct's id and exposes references the user's outputs can use", () => {
    const outdir = join(scratch, "user-app");
    const { gateways } = userApp(outdir);
    const stack = JSON.parse(readFileSync(join(outdir, "stacks", "platform", "cdk.tf.json"), "utf8"));
    expect(Object.keys(stack.resource.hcloud_server).sort()).toEqual(["batch_batch-egress-1", "batch_batch-egress-2", "egress_prod-egress-1", "egress_prod-egress-2"]);
    expect(stack.output.partner_allowlist.value).toEqual([
      "${data.hcloud_floating_ip.egress_primary.ip_address}",
      "${hcloud_floating_ip.batch_primary.ip_address}",
      "${hcloud_floating_ip.batch_spill.ip_address}",
    ]);
    expect(stack.output.route_ids.value).toEqual(["${hcloud_network_route.egress_route_0_0_0_0_0.id}"]);
    // The user's own network replaces the spec's lookup; the spec's own lookup stays for the other gateway.
    expect(Object.keys(stack.data.hcloud_network)).toEqual(["batch_network"]);
    expect(stack.resource.hcloud_network_route.egress_route_0_0_0_0_0.network_id).toBe("${tonumber(local.egress_network_id)}");
    expect(stack.locals.egress_network_id).toBe("${hcloud_network.mine.id}");
    // No key given: null, so Terraform asks the SSH agent at apply.
    expect(stack.resource.terraform_data["egress_prod-egress-1"].connection.private_key).toBe("${null}");
    expect(gateways[0]!.members.map((member) => member.privateIp)).toEqual(["10.0.1.2", "10.0.1.3"]);
    expect(() => gateways[0]!.egressIp("nope")).toThrow(/no egress IP "nope" \(it has primary\)/);
  });

  it.skipIf(skipValidate)("is valid Terraform, in JSON and in HCL", () => {
    const outdir = join(scratch, "user-app-validate");
    userApp(outdir);
    expect(validate(stackDir(outdir, "platform", "user-json")).status).toBe(0);
    process.env.SYNTH_HCL_OUTPUT = "true";
    try {
      userApp(join(scratch, "user-app-hcl"));
    } finally {
      delete process.env.SYNTH_HCL_OUTPUT;
    }
    const result = validate(stackDir(join(scratch, "user-app-hcl"), "platform", "user-hcl"));
    expect(result.status, result.output).toBe(0);
  });

  it("refuses a network for a gateway whose spec creates its own", () => {
    const stack = new TerraformStack(new App({ outdir: join(scratch, "refused") }), "platform");
    expect(() => new NatGateway(stack, "dev", { spec: { files: ["examples/single.yaml"] }, memberHcloudToken: "x".repeat(64), network: 1 })).toThrow(
      /creates its network .*takes no network/,
    );
  });

  it("takes the spec as documents, and says where a document is wrong", () => {
    const stack = new TerraformStack(new App({ outdir: join(scratch, "documents") }), "platform");
    const document = { apiVersion: "natgw.dev/v1alpha1", kind: "NatGateway", metadata: { name: "tiny" }, spec: { location: "mars" } };
    expect(() => new NatGateway(stack, "tiny", { spec: { documents: document }, memberHcloudToken: "x".repeat(64) })).toThrow(/<documents\[0\]>:\d+:\d+: error/);
  });
});

/** The user's own hcloud_network, as a binding of their own declares it: any construct with an `id` does. */
class NetworkOfTheUser extends TerraformResource {
  constructor(stack: TerraformStack) {
    super(stack, "network", { terraformResourceType: "hcloud_network", terraformGeneratorMetadata: { providerName: "hcloud" } });
    this.overrideLogicalId("mine");
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return { name: "platform", ip_range: "10.0.0.0/16" };
  }

  protected override synthesizeHclAttributes(): Record<string, unknown> {
    const text = (value: string) => ({ value, isBlock: false, type: "simple", storageClassType: "string" });
    return { name: text("platform"), ip_range: text("10.0.0.0/16") };
  }

  get id(): string {
    return this.getStringAttribute("id");
  }
}
