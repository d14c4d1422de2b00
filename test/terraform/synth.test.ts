import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LocalBackend } from "cdktf";
import { Construct } from "constructs";
import { specFiles } from "../../src/emit/terraform/app.js";
import { NatGatewayStack } from "../../src/emit/terraform/stack.js";
import { CDKTF_VERSION, synthesizeStack } from "../../src/emit/terraform/synth.js";
import { buildExample, EXAMPLES } from "../support/artifacts.js";

// `cdktf synth` in a user's repository must write the bytes `natgw build` writes.
// The cdktf CLI runs the `app` command of cdktf.json with the output directory in
// CDKTF_OUTDIR and cdktf.json's context as JSON in CDKTF_CONTEXT_JSON; the first
// tests run natgw's app exactly so, and the last runs the real CLI (cdktf-cli, a
// devDependency; CDKTF_CLI names another).
const scratch = mkdtempSync(join(tmpdir(), "natgw-synth-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const appEntry = resolve("bin/natgw-cdktf.js");

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

/** Every file under cdktf.out, by relative path. */
function outputFiles(dir: string, prefix = ""): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) for (const [key, value] of outputFiles(dir, path)) files.set(key, value);
    else files.set(path, readFileSync(join(dir, path), "utf8"));
  }
  return files;
}

function builtTerraform(example: string): Map<string, string> {
  return new Map(
    buildExample(example)
      .filter((artifact) => artifact.role === "terraform")
      .map((artifact) => [artifact.path, artifact.content]),
  );
}

describe("cdktf synth writes what natgw build writes", () => {
  for (const example of EXAMPLES) {
    it(`${example}: natgw's app, run as cdktf synth runs it, writes the same manifest.json and cdk.tf.json bytes`, () => {
      const dir = repository(`app-${example}`, { natgwSpec: resolve(`examples/${example}.yaml`) });
      const run = runAppAsCdktf(dir);
      expect(run.stderr).toBe("");
      expect(run.status).toBe(0);
      expect(outputFiles(join(dir, "cdktf.out"))).toEqual(builtTerraform(example));
    });
  }

  it("NATGW_SPEC names the spec in place of cdktf.json's context", () => {
    const dir = repository("app-env", { natgwSpec: resolve("examples/ha.yaml") });
    const run = runAppAsCdktf(dir, { NATGW_SPEC: resolve("examples/single.yaml") });
    expect(run.status).toBe(0);
    expect(outputFiles(join(dir, "cdktf.out"))).toEqual(builtTerraform("single"));
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

  it("NatGatewayStack composes into another tree from a spec, giving the stack natgw build writes, with the backend of your choice", () => {
    const root = new Construct(undefined as unknown as Construct, "");
    root.node.setContext("cdktfVersion", CDKTF_VERSION);
    const stack = new NatGatewayStack(root, "edge-egress", { files: ["examples/policies.yaml"] });
    expect(synthesizeStack(stack)).toBe(builtTerraform("policies").get("stacks/edge-egress/cdk.tf.json"));
    expect(() => new NatGatewayStack(root, "other", { files: ["examples/policies.yaml"], gateway: "nope" })).toThrow(/no NatGateway named "nope"/);
    const own = new NatGatewayStack(root, "own-backend", { files: ["examples/single.yaml"] }, { localBackend: false });
    new LocalBackend(own, { path: "/srv/state/dev-egress.tfstate" });
    expect(JSON.parse(synthesizeStack(own)).terraform.backend).toEqual({ local: { path: "/srv/state/dev-egress.tfstate" } });
  });

  it("only src/emit/terraform imports cdktf", () => {
    const sources = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : [],
      );
    const importers = sources("src").filter((file) => /from "cdktf[/"]/.test(readFileSync(file, "utf8")));
    expect(importers.length).toBeGreaterThan(0);
    expect(importers.filter((file) => !file.startsWith(join("src", "emit", "terraform")))).toEqual([]);
  });

  it("reads the spec from context or NATGW_SPEC (paths separated like PATH), the environment first", () => {
    expect(specFiles({}, "natgw.yaml")).toEqual(["natgw.yaml"]);
    expect(specFiles({}, ["a.yaml", "b.yaml"])).toEqual(["a.yaml", "b.yaml"]);
    expect(specFiles({ NATGW_SPEC: "x.yaml:y.yaml" }, "natgw.yaml")).toEqual(["x.yaml", "y.yaml"]);
    expect(specFiles({}, undefined)).toEqual([]);
  });

  const cli = process.env.CDKTF_CLI ?? resolve("node_modules/.bin/cdktf");
  it("the real cdktf CLI's synth gives the same bytes", () => {
    for (const example of ["single", "policies"]) {
      const dir = repository(`cli-${example}`, { natgwSpec: resolve(`examples/${example}.yaml`) });
      const run = spawnSync(cli, ["synth"], { cwd: dir, encoding: "utf8", env: { ...process.env, CHECKPOINT_DISABLE: "1", CI: "true" } });
      expect(run.status, run.stderr + run.stdout).toBe(0);
      const written = outputFiles(join(dir, "cdktf.out"));
      // The CLI may leave its own bookkeeping beside the stacks; natgw's files must match.
      for (const [path, content] of builtTerraform(example)) expect(written.get(path), path).toBe(content);
    }
  });
});
