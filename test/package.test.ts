import { execFileSync, spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { precompiledTemplates, schemaValidators } from "../scripts/build.js";
import { listing } from "./support/output-dir.js";

/**
 * natgw as npm installs it: `npm pack` of the build the global setup made,
 * unpacked into node_modules/natgw of a scratch project. The packages it needs
 * link to this repository's node_modules, as npm would have installed them, so
 * no test here reaches a registry.
 */
const manifest = JSON.parse(readFileSync("package.json", "utf8")) as {
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
};
const scratch = realpathSync(mkdtempSync(join(tmpdir(), "natgw-package-")));
const project = join(scratch, "project");
const installed = join(project, "node_modules", "natgw");
const spec = resolve("examples/ha.yaml");
let packed: string[] = [];

beforeAll(() => {
  const [pack] = JSON.parse(
    execFileSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", scratch], { encoding: "utf8" }),
  ) as [{ filename: string; files: { path: string }[] }];
  packed = pack.files.map((file) => file.path).sort();
  mkdirSync(installed, { recursive: true });
  execFileSync("tar", ["-xzf", join(scratch, pack.filename), "-C", installed, "--strip-components=1"]);
  const linked = [...Object.keys(manifest.dependencies), ...Object.keys(manifest.peerDependencies), "@types/node"];
  for (const name of linked) {
    mkdirSync(join(project, "node_modules", name, ".."), { recursive: true });
    symlinkSync(resolve("node_modules", name), join(project, "node_modules", name));
  }
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function run(command: string, args: readonly string[], env: Record<string, string> = {}) {
  const result = spawnSync(command, args, { cwd: project, encoding: "utf8", env: { PATH: process.env.PATH ?? "", ...env } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("the npm package", () => {
  it("holds the license, the bins, the build, and every file the build reads at run time; no sources", () => {
    const shipped = execFileSync("git", ["ls-files", "schema", "templates", "programs"], { encoding: "utf8" }).trim().split("\n");
    expect(packed).toEqual(expect.arrayContaining(["LICENSE", "bin/natgw.js", "bin/natgw-cdktf.js", "package.json", ...shipped]));
    expect(packed).toEqual(
      expect.arrayContaining([
        "dist/cli.js",
        "dist/cdktf.js",
        "dist/cjs/cdktf.js",
        "dist/cjs/package.json",
        "dist/validate/schema-validators.js",
        "dist/THIRD-PARTY-LICENSES.txt",
      ]),
    );
    expect(packed.filter((path) => /^(src|test|scripts|bench)\//.test(path))).toEqual([]);
  });

  it("prints the path of its own schema file with natgw schema --path", () => {
    const result = run("node", [join(installed, "bin", "natgw.js"), "schema", "--path"]);
    expect(result).toMatchObject({ code: 0, stdout: `${join(installed, "schema", "natgw.schema.json")}\n` });
  });

  it("builds the same files installed as from the checkout: templates and programs found from dist/", () => {
    const fromPackage = run("node", [join(installed, "bin", "natgw.js"), "build", spec, "--out", join(scratch, "installed-out")]);
    expect(fromPackage).toMatchObject({ code: 0, stderr: "" });
    const fromCheckout = run("node", [resolve("bin/natgw.js"), "build", spec, "--out", join(scratch, "checkout-out")]);
    expect(fromCheckout.code).toBe(0);
    expect(listing(join(scratch, "installed-out"))).toEqual(listing(join(scratch, "checkout-out")));
  });

  it("gives CommonJS and ES modules the same natgw/cdktf", () => {
    const required = run("node", ["-e", `console.log(JSON.stringify(Object.keys(require("natgw/cdktf")).sort()))`]);
    const imported = run("node", ["--input-type=module", "-e", `console.log(JSON.stringify(Object.keys(await import("natgw/cdktf")).sort()))`]);
    expect(required.code).toBe(0);
    expect(JSON.parse(required.stdout)).toContain("NatGatewayStack");
    expect(JSON.parse(required.stdout)).toEqual(JSON.parse(imported.stdout));
  });

  it("synthesizes through require('natgw/cdktf') the same cdk.tf.json natgw build writes", () => {
    const outdir = join(scratch, "cjs-synth");
    const synth = run("node", ["-e", `process.exitCode = require("natgw/cdktf").synthApp()`], { CDKTF_OUTDIR: outdir, NATGW_SPEC: spec });
    expect(synth).toMatchObject({ code: 0, stderr: "" });
    const built = join(scratch, "cjs-build");
    expect(run("node", [join(installed, "bin", "natgw.js"), "build", spec, "--out", built]).code).toBe(0);
    // The same configuration; cdktf adds its "//" metadata.
    const stack = join("stacks", "prod-egress", "cdk.tf.json");
    const withoutMetadata = (text: string) => JSON.parse(text, (key, value) => (key === "//" ? undefined : value));
    expect(withoutMetadata(readFileSync(join(outdir, stack), "utf8"))).toEqual(withoutMetadata(readFileSync(join(built, stack), "utf8")));
  });

  /**
   * A cdktf app in TypeScript, compiled as each kind of project would: TypeScript 5
   * with CommonJS and `moduleResolution: node`, which ignores `exports` (typesVersions
   * answers it), TypeScript 5 with node16 in a CommonJS project (the "require" types
   * under dist/cjs/), and the project's own TypeScript as an ES module.
   */
  const consumers = [
    { name: "TypeScript 5, CommonJS, moduleResolution node", tsc: "typescript-5", file: "app.ts", module: "commonjs", resolution: "node" },
    { name: "TypeScript 5, node16, a CommonJS project", tsc: "typescript-5", file: "app.ts", module: "node16", resolution: "node16" },
    { name: "TypeScript, nodenext, an ES module", tsc: "typescript", file: "app.mts", module: "nodenext", resolution: "nodenext" },
  ];
  it.each(consumers)("type-checks a cdktf app importing natgw/cdktf: $name", ({ tsc, file, module, resolution }) => {
    const directory = join(project, `${module}-${resolution}`);
    mkdirSync(directory);
    writeFileSync(
      join(directory, file),
      [
        `import { App } from "cdktf";`,
        `import { NatGatewayStack, type NatGatewaySpec } from "natgw/cdktf";`,
        `const spec: NatGatewaySpec = { files: ["natgw.yaml"] };`,
        `export const stack: NatGatewayStack = new NatGatewayStack(new App(), "prod-egress", spec, { localBackend: false });`,
        "",
      ].join("\n"),
    );
    const compilerOptions = { module, moduleResolution: resolution, strict: true, noEmit: true, types: ["node"], skipLibCheck: false };
    writeFileSync(join(directory, "tsconfig.json"), JSON.stringify({ compilerOptions, files: [file] }));
    const result = run("node", [resolve("node_modules", tsc, "bin", "tsc"), "-p", directory]);
    expect(result.stdout + result.stderr).toBe("");
    expect(result.code).toBe(0);
  });
});

describe("npm run build", () => {
  it("compiles the schema's validators to the same code every time, and dist/ holds those of the schema as it is", async () => {
    const first = (await schemaValidators()).code;
    expect((await schemaValidators()).code).toBe(first);
    expect(readFileSync("dist/validate/schema-validators.js", "utf8")).toBe(first);
    expect(first).toMatch(/^export \{[^}]*\bNatGateway\b[^}]*\}/m);
    expect(first).toMatch(/^export \{[^}]*\bEgressNATPolicy\b[^}]*\}/m);
  });

  it("compiles the templates to the same code every time, and dist/ holds those of templates/ as it is", async () => {
    const first = await precompiledTemplates();
    expect(await precompiledTemplates()).toBe(first);
    expect(readFileSync("dist/templates.cjs", "utf8")).toBe(first);
    const names = Object.keys(createRequire(import.meta.url)(resolve("dist/templates.cjs")) as object);
    expect(names).toContain("etc/natgw/ruleset.nft.njk");
    expect(names).toEqual(execFileSync("git", ["ls-files", "templates"], { encoding: "utf8" }).trim().split("\n").map((path) => path.slice("templates/".length)).sort());
  });

  it("ships the license of every npm package whose code it bundled", () => {
    const bundles = ["dist/cli.js", "dist/validate/schema-validators.js", ...readdirSync("dist/chunks").map((name) => `dist/chunks/${name}`)];
    // esbuild marks each bundled file with a comment naming its path.
    const bundled = new Set(
      bundles.flatMap((file) => [...readFileSync(file, "utf8").matchAll(/^\/\/ (?:\.\.\/)*(?:[^\n]*\/)?node_modules\/((?:@[^/]+\/)?[^/]+)\//gm)].map((match) => match[1]!)),
    );
    expect(bundled).toContain("commander");
    const notices = readFileSync("dist/THIRD-PARTY-LICENSES.txt", "utf8");
    for (const name of bundled) {
      const { version } = JSON.parse(readFileSync(join("node_modules", name, "package.json"), "utf8")) as { version: string };
      expect(notices, name).toContain(`\n${name} ${version} (`);
    }
  });
});
