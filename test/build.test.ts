import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compile } from "../src/compile.js";
import { emit } from "../src/emit/emit.js";
import { writeOutput } from "../src/write/write.js";
import { goldenText } from "./support/golden.js";

// UPDATE_GOLDEN=1 rewrites test/golden/build/; review the diff. A golden holds
// each host file once: copies embedded in cloud-init.yaml and Terraform are a
// line with the file's path and sha256 there (test/support/golden.ts).
const update = process.env.UPDATE_GOLDEN === "1";
const examples = ["single", "ha", "policies", "ports"];
const scratch = mkdtempSync(join(tmpdir(), "natgw-build-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function artifactsOf(example: string) {
  const result = compile([`examples/${example}.yaml`]);
  return emit(result.model!);
}

function listFiles(dir: string, prefix = ""): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((entry) => {
      const path = join(dir, entry);
      return statSync(path).isDirectory() ? listFiles(path, `${prefix}${entry}/`) : [`${prefix}${entry}`];
    });
}

describe("natgw build", () => {
  for (const example of examples) {
    it(`${example}: every artifact matches its golden file`, () => {
      const { artifacts, diagnostics } = artifactsOf(example);
      expect(diagnostics).toEqual([]);
      const goldenDir = `test/golden/build/${example}`;
      if (update) {
        rmSync(goldenDir, { recursive: true, force: true });
        for (const artifact of artifacts) {
          mkdirSync(dirname(join(goldenDir, artifact.path)), { recursive: true });
          writeFileSync(join(goldenDir, artifact.path), goldenText(artifact, artifacts));
        }
      }
      expect(artifacts.map((a) => a.path).sort()).toEqual(listFiles(goldenDir));
      for (const artifact of artifacts) expect(goldenText(artifact, artifacts), artifact.path).toBe(readFileSync(join(goldenDir, artifact.path), "utf8"));
    });
  }

  it("no artifact holds anything shaped like a Hetzner Cloud API token (64 letters and digits)", () => {
    for (const example of examples) {
      for (const artifact of artifactsOf(example).artifacts) {
        // cloud-init carries binary files as base64, which may hold any run of letters;
        // a stack holds its host files' sha256, as a trigger and in the push's check list.
        const text = artifact.content
          .replace(/^ +[A-Za-z0-9+/=]{76,}$/gm, "")
          .replace(/"host_files": "[0-9a-f]{64}"/g, "")
          .replace(/[0-9a-f]{64}(?=  \/)/g, "");
        expect(text.match(/(?<![A-Za-z0-9])[A-Za-z0-9]{64}(?![A-Za-z0-9])/g), artifact.path).toBeNull();
      }
    }
  });

  it("needs no Terraform on the machine: a PATH without it builds the same stack", () => {
    const bin = join(scratch, "node-only");
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, "node"));
    const out = join(scratch, "without-terraform");
    const result = spawnSync(process.execPath, ["bin/natgw.js", "build", "--out", out, "examples/ha.yaml"], { encoding: "utf8", env: { PATH: bin } });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const { artifacts } = artifactsOf("ha");
    const stack = artifacts.find((artifact) => artifact.path === "stacks/prod-egress/cdk.tf.json")!;
    expect(readFileSync(join(out, stack.path), "utf8")).toBe(stack.content);
    expect(goldenText(stack, artifacts)).toBe(readFileSync("test/golden/build/ha/stacks/prod-egress/cdk.tf.json", "utf8"));
  });

  it("writes the same bytes twice, natgw.json included", () => {
    const { artifacts } = artifactsOf("policies");
    writeOutput(join(scratch, "a"), artifacts, "test");
    writeOutput(join(scratch, "b"), artifactsOf("policies").artifacts, "test");
    const files = listFiles(join(scratch, "a"));
    expect(files).toEqual(listFiles(join(scratch, "b")));
    for (const file of files) expect(readFileSync(join(scratch, "a", file))).toEqual(readFileSync(join(scratch, "b", file)));
  });

  it("indexes every file with its role, member, mode and sha256", () => {
    const { artifacts } = artifactsOf("ha");
    writeOutput(join(scratch, "index"), artifacts, "test");
    const index = JSON.parse(readFileSync(join(scratch, "index", "natgw.json"), "utf8"));
    expect(index.artifacts).toHaveLength(artifacts.length);
    expect(index.artifacts).toContainEqual({
      path: "hosts/prod-egress-1/etc/sysctl.d/90-natgw.conf",
      role: "sysctl",
      gateway: "prod-egress",
      member: "prod-egress-1",
      mode: "0644",
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(statSync(join(scratch, "index", "hosts/prod-egress-1/etc/sysctl.d/90-natgw.conf")).mode & 0o777).toBe(0o644);
    for (const path of ["stacks/prod-egress/cdk.tf.json", "modules/prod-egress/main.tf.json"]) {
      expect(index.artifacts.find((entry: { path: string }) => entry.path === path), path).toMatchObject({ role: "terraform", member: null, mode: "0644" });
    }
  });

  it("a rebuild leaves no file of the previous build that it does not write again, and no staging directory", () => {
    const out = join(scratch, "replace");
    writeOutput(out, artifactsOf("ha").artifacts, "test");
    const { artifacts } = artifactsOf("single");
    writeOutput(out, artifacts, "test");
    expect(listFiles(out)).toEqual([...artifacts.map((artifact) => artifact.path), "natgw.json"].sort());
    expect(readdirSync(join(out, "hosts"))).toEqual(["dev-egress-1"]);
    expect([...readdirSync(scratch), ...readdirSync(out)].filter((entry) => entry.includes(".natgw-"))).toEqual([]);
  });

  it("leaves an existing output untouched when writing fails", () => {
    const out = join(scratch, "kept");
    writeOutput(out, artifactsOf("ha").artifacts, "test");
    const before = readFileSync(join(out, "natgw.json"), "utf8");
    const broken = [{ path: "hosts/x/../../escape", role: "config" as const, gateway: null, member: null, fileMode: "0644" as const, content: "" }];
    expect(() => writeOutput(out, broken, "test")).toThrow(/leaves the output directory/);
    expect(readFileSync(join(out, "natgw.json"), "utf8")).toBe(before);
    expect([...readdirSync(scratch), ...readdirSync(out)].filter((entry) => entry.includes(".natgw-"))).toEqual([]);
  });
});
