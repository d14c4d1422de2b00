import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

/**
 * Each command loads only what it runs: a user who validates a spec waits for
 * neither cdktf nor nunjucks. The real bin runs under a preload that lists every
 * module the process loads (test/support/loaded-modules.mjs); the tests read that
 * list, not the code.
 */
const PRELOAD = new URL("./support/loaded-modules.mjs", import.meta.url).href;
const scratch = mkdtempSync(join(tmpdir(), "natgw-modules-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let runs = 0;

interface Loaded {
  readonly code: number | null;
  /** Paths of the files loaded, realpaths as Node loads them. */
  readonly files: readonly string[];
  /** npm packages loaded, by name. */
  readonly packages: ReadonlySet<string>;
}

/** What `node <nodeArgs>` loads, with what it printed. */
function loadedByNode(nodeArgs: readonly string[]): Loaded & { readonly stdout: string } {
  const log = join(scratch, `modules-${(runs += 1)}.txt`);
  const result = spawnSync(process.execPath, ["--import", PRELOAD, ...nodeArgs], {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", NATGW_MODULE_LOG: log },
  });
  const urls = readFileSync(log, "utf8").split("\n").filter((line) => line.startsWith("file:"));
  const files = [...new Set(urls.map((url) => fileURLToPath(url)))].sort();
  const packages = new Set(files.flatMap((file) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file)?.[1] ?? []));
  return { code: result.status, files, packages, stdout: result.stdout };
}

/** What the real bin loads for a command line. */
function loadedBy(args: readonly string[]): Loaded {
  return loadedByNode([resolve("bin/natgw.js"), ...args]);
}

/** The CLI bundle's chunk of a stage, named after the module each command imports (scripts/build.ts). */
function stageChunks(loaded: Loaded): string[] {
  return loaded.files.flatMap((file) => /\/dist\/chunks\/(compile|explain|emit|write)-[A-Z0-9]+\.js$/.exec(file)?.[1] ?? []);
}

describe("which modules a natgw command loads", () => {
  it("natgw validate loads neither cdktf nor nunjucks, nor the emitter", () => {
    const loaded = loadedBy(["validate", "examples/ha.yaml"]);
    expect(loaded.code).toBe(0);
    expect(loaded.packages).not.toContain("cdktf");
    expect(loaded.packages).not.toContain("constructs");
    expect(loaded.packages).not.toContain("nunjucks");
    expect(stageChunks(loaded)).toEqual(["compile"]);
  });

  it("natgw explain loads neither cdktf nor nunjucks, nor the emitter", () => {
    const loaded = loadedBy(["explain", "examples/ha.yaml", "--src", "10.0.1.5", "--dst", "192.0.2.1:443"]);
    expect(loaded.code).toBe(0);
    expect(loaded.packages).not.toContain("cdktf");
    expect(loaded.packages).not.toContain("constructs");
    expect(loaded.packages).not.toContain("nunjucks");
    expect(stageChunks(loaded).sort()).toEqual(["compile", "explain"]);
  });

  it("natgw --version and --help load no stage and no npm package", () => {
    for (const args of [["--version"], ["--help"]]) {
      const loaded = loadedBy(args);
      expect(loaded.code).toBe(0);
      expect([...loaded.packages]).toEqual([]);
      expect(loaded.files).toContain(resolve("dist/cli.js"));
      expect(stageChunks(loaded)).toEqual([]);
    }
  });

  it("natgw build loads the emitter and nunjucks, which renders the host files, but no cdktf: it writes Terraform JSON itself", () => {
    const loaded = loadedBy(["build", "examples/ha.yaml", "--out", join(scratch, "out")]);
    expect(loaded.code).toBe(0);
    expect(loaded.packages).toContain("nunjucks");
    expect(stageChunks(loaded)).toContain("emit");
    expect(loaded.packages).not.toContain("cdktf");
    expect(loaded.packages).not.toContain("constructs");
  });

  it("the library validates with the validators compiled at build time: ajv is not loaded", () => {
    // dist/index.js is tsc's output, not bundled: each npm package it uses is loaded from node_modules.
    const library = pathToFileURL(resolve("dist/index.js")).href;
    const text = "apiVersion: natgw.dev/v1alpha1\nkind: NatGateway\nmetadata: { name: a }\nspec: { location: fsn1, bogus: 1 }\n";
    const script = `const { compileSources } = await import(${JSON.stringify(library)});
      const { diagnostics } = compileSources([{ path: "a.yaml", text: ${JSON.stringify(text)} }]);
      console.log(JSON.stringify(diagnostics.map((diagnostic) => diagnostic.message)));`;
    const loaded = loadedByNode(["--input-type=module", "-e", script]);
    expect(loaded.code).toBe(0);
    expect(JSON.parse(loaded.stdout)).toContain('unknown field "bogus" in spec');
    expect(loaded.packages).toContain("yaml");
    expect(loaded.packages).not.toContain("ajv");
  });
});
