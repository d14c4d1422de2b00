import * as fs from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compile } from "../src/compile.js";
import type { Artifact } from "../src/emit/artifact.js";
import { emit } from "../src/emit/emit.js";
import { buildIndex, writeOutput, type FileSystem } from "../src/write/write.js";
import { cannotMount, listing, remount, withTmpfs } from "./support/output-dir.js";

const { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } = fs;

const scratch = mkdtempSync(join(tmpdir(), "natgw-write-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let outputs = 0;
const freshOut = () => join(scratch, `out-${++outputs}`);

function artifactsOf(...files: string[]): Artifact[] {
  const emitted = emit(compile(files).model!);
  expect(emitted.diagnostics).toEqual([]);
  return emitted.artifacts;
}

/** examples/ha.yaml, edited. */
function haWith(name: string, edit: (text: string) => string): string {
  const path = join(scratch, `${name}.yaml`);
  writeFileSync(path, edit(readFileSync("examples/ha.yaml", "utf8")));
  return path;
}
const haEdited = haWith("ha-edited", (text) => text.replace("198.51.100.7/32", "198.51.100.8/32"));
const haOneMember = haWith("ha-one-member", (text) =>
  text.replace("highAvailability: { enabled: true }", "highAvailability: { enabled: false }").replace("[10.0.1.2, 10.0.1.3]", "[10.0.1.2]"),
);

/** What `terraform init && terraform apply`, and a user, leave next to natgw's files. */
const FOREIGN: Readonly<Record<string, string>> = {
  "stacks/prod-egress/terraform.prod-egress.tfstate": '{"version":4,"serial":7,"lineage":"3f0c"}\n',
  "stacks/prod-egress/terraform.prod-egress.tfstate.backup": '{"version":4,"serial":6}\n',
  "stacks/prod-egress/.terraform/environment": "default",
  "stacks/prod-egress/.terraform/providers/registry.terraform.io/hetznercloud/hcloud/1.68.0/linux_amd64/terraform-provider-hcloud": "\u007fELF\u0002\u0001",
  "stacks/prod-egress/.terraform.lock.hcl": 'provider "registry.terraform.io/hetznercloud/hcloud" {\n  version = "1.68.0"\n}\n',
  "stacks/prod-egress/backend_override.tf": 'terraform {\n  backend "s3" {}\n}\n',
  "README.md": "# Our gateways\n",
  ".git/HEAD": "ref: refs/heads/main\n",
  ".git/objects/4b/825dc642cb6eb9a060e54bf8d69288fbee4904": "x\u0001",
};

function addForeign(out: string): void {
  for (const [path, content] of Object.entries(FOREIGN)) {
    mkdirSync(dirname(join(out, path)), { recursive: true });
    writeFileSync(join(out, path), content, { mode: 0o600 });
  }
  symlinkSync("providers/registry.terraform.io", join(out, "stacks/prod-egress/.terraform/registry"));
}

/** The listing of everything but natgw's own files. */
function foreignListing(out: string, artifacts: readonly Artifact[]): string[] {
  const natgw = new Set([...artifacts.map((artifact) => artifact.path), "natgw.json"]);
  return listing(out).filter((line) => !line.includes(" dir ") && !natgw.has(line.split(" ")[0]!));
}

function expectWritten(out: string, artifacts: readonly Artifact[]): void {
  for (const artifact of artifacts) expect(readFileSync(join(out, artifact.path), "utf8"), artifact.path).toBe(artifact.content);
  expect(readFileSync(join(out, "natgw.json"), "utf8")).toBe(buildIndex(artifacts, "test"));
}

describe("a rebuild", () => {
  it("keeps Terraform state, .terraform/, the lock file, backend_override.tf, a README and .git byte for byte", () => {
    const out = freshOut();
    const first = artifactsOf("examples/ha.yaml");
    writeOutput(out, first, "test");
    addForeign(out);
    const before = foreignListing(out, first);
    const rebuilt = artifactsOf(haEdited);
    expect(rebuilt.find((a) => a.path === "stacks/prod-egress/cdk.tf.json")!.content).not.toBe(first.find((a) => a.path === "stacks/prod-egress/cdk.tf.json")!.content);
    writeOutput(out, rebuilt, "test");
    expect(foreignListing(out, rebuilt)).toEqual(before);
    expect(before).toHaveLength(Object.keys(FOREIGN).length + 1);
    expectWritten(out, rebuilt);
  });

  it("removes the files of a dropped gateway and the directories they leave empty, but not a directory with a foreign file", () => {
    const out = freshOut();
    writeOutput(out, artifactsOf("examples/ha.yaml", "examples/single.yaml"), "test");
    writeFileSync(join(out, "stacks/dev-egress/terraform.dev-egress.tfstate"), "{}\n");
    const rebuilt = artifactsOf("examples/ha.yaml");
    const result = writeOutput(out, rebuilt, "test");
    expect(result.changes.removed).toContain("hosts/dev-egress-1/cloud-init.yaml");
    expect(readdirSync(join(out, "hosts"))).toEqual(["prod-egress-1", "prod-egress-2"]);
    expect(listing(join(out, "stacks/dev-egress"))).toEqual([expect.stringMatching(/^terraform\.dev-egress\.tfstate file /)]);
    expect(readdirSync(join(out, "monitoring")).sort()).toEqual(["prod-egress-alerts.yaml", "prod-egress-dashboard.json", "prod-egress-scrape.yaml", "prod-egress-vmrule.yaml", "prod-egress-vmstaticscrape.yaml"]);
    expectWritten(out, rebuilt);
  });

  it("removes the files of a dropped member, keeping a note the user left in its directory", () => {
    const out = freshOut();
    writeOutput(out, artifactsOf("examples/ha.yaml"), "test");
    writeFileSync(join(out, "hosts/prod-egress-2/NOTES.txt"), "rack 4\n");
    const rebuilt = artifactsOf(haOneMember);
    writeOutput(out, rebuilt, "test");
    expect(listing(join(out, "hosts/prod-egress-2"))).toEqual([expect.stringMatching(/^NOTES\.txt file /)]);
    expect(listing(out).filter((line) => !line.includes(" dir ")).map((line) => line.split(" ")[0]).sort()).toEqual(
      [...rebuilt.map((artifact) => artifact.path), "natgw.json", "hosts/prod-egress-2/NOTES.txt"].sort(),
    );
  });

  it("replaces a file natgw wrote that was edited since, and says which", () => {
    const out = freshOut();
    const artifacts = artifactsOf("examples/ha.yaml");
    writeOutput(out, artifacts, "test");
    writeFileSync(join(out, "stacks/prod-egress/cdk.tf.json"), "{}\n");
    expect(writeOutput(out, artifacts, "test").edited).toEqual(["stacks/prod-egress/cdk.tf.json"]);
    expectWritten(out, artifacts);
  });

  it("writes into a directory without natgw.json beside the files already there", () => {
    const out = freshOut();
    addForeign(out);
    const before = listing(out);
    const artifacts = artifactsOf("examples/ha.yaml");
    writeOutput(out, artifacts, "test");
    expect(foreignListing(out, artifacts)).toEqual(before.filter((line) => !line.includes(" dir ")));
    expectWritten(out, artifacts);
  });
});

describe("a refused build changes nothing", () => {
  const index = JSON.parse(buildIndex(artifactsOf("examples/single.yaml"), "test")) as { generator: string; artifacts: Record<string, unknown>[] };
  const withEntry = (change: Record<string, unknown>) => JSON.stringify({ ...index, artifacts: [{ ...index.artifacts[0], ...change }] });
  it.each([
    ["a JSON spec", JSON.stringify({ apiVersion: "natgw.dev/v1alpha1", kind: "NatGateway", metadata: { name: "prod-egress" }, spec: {} })],
    ["not JSON", "{"],
    ["another generator", JSON.stringify({ ...index, generator: "terraform 1.9.0" })],
    ["an extra field", JSON.stringify({ ...index, comment: "mine" })],
    ["an entry with an extra field", withEntry({ owner: "me" })],
    ["a path out of the directory", withEntry({ path: "../outside.txt" })],
    ["an absolute path", withEntry({ path: "/etc/hosts" })],
    ["an entry without a sha256", withEntry({ sha256: undefined })],
  ])("a natgw.json that is %s, not natgw's index", (_, text) => {
    const out = freshOut();
    addForeign(out);
    writeFileSync(join(out, "natgw.json"), text);
    const before = listing(out);
    expect(() => writeOutput(out, artifactsOf("examples/single.yaml"), "test")).toThrow(/natgw\.json is not an index natgw wrote \(.+\)/);
    expect(listing(out)).toEqual(before);
  });

  it("a file natgw did not write at a path of the new build", () => {
    const out = freshOut();
    writeOutput(out, artifactsOf("examples/single.yaml"), "test");
    mkdirSync(join(out, "hosts/prod-egress-1"));
    writeFileSync(join(out, "hosts/prod-egress-1/cloud-init.yaml"), "#cloud-config\n");
    mkdirSync(join(out, "stacks/prod-egress/cdk.tf.json"), { recursive: true });
    const before = listing(out);
    expect(() => writeOutput(out, artifactsOf("examples/ha.yaml"), "test")).toThrow(
      `2 paths natgw writes are already taken:\n  ${out}/hosts/prod-egress-1/cloud-init.yaml exists and natgw.json does not list it\n  ${out}/stacks/prod-egress/cdk.tf.json is a directory\nnatgw changes only the files its natgw.json lists, so it changed nothing: move them away, or choose another --out`,
    );
    expect(listing(out)).toEqual(before);
  });

  it("a symbolic link where natgw needs a directory", () => {
    const out = freshOut();
    mkdirSync(join(scratch, "elsewhere"), { recursive: true });
    mkdirSync(out);
    symlinkSync(join(scratch, "elsewhere"), join(out, "hosts"));
    const before = listing(out);
    expect(() => writeOutput(out, artifactsOf("examples/ha.yaml"), "test")).toThrow(`${out}/hosts is a symbolic link, where natgw needs a directory`);
    expect(listing(out)).toEqual(before);
    expect(readdirSync(join(scratch, "elsewhere"))).toEqual([]);
  });
});

/** node:fs, except that the nth call of one function fails as the kernel would with `code`. */
function failing(method: "renameSync" | "writeFileSync" | "mkdirSync", nth: number, code: string, thenToo = false): FileSystem & { calls: () => number } {
  let calls = 0;
  const original = fs[method] as (...args: unknown[]) => unknown;
  const replacement = (...args: unknown[]) => {
    calls += 1;
    if (calls === nth || (thenToo && calls > nth)) throw Object.assign(new Error(`${code}: injected, ${method} '${String(args[0])}'`), { code, path: String(args[0]) });
    return original(...args);
  };
  return { ...fs, [method]: replacement, calls: () => calls } as FileSystem & { calls: () => number };
}

describe("a build that fails midway", () => {
  const next = artifactsOf(haEdited);
  const old = artifactsOf("examples/ha.yaml", "examples/single.yaml");
  /** A previous build of two gateways with foreign files: the next one replaces, adds and removes. */
  function previous(): string {
    const out = freshOut();
    writeOutput(out, old, "test");
    addForeign(out);
    // A mode of the user's own, which an undone build must put back too.
    fs.chmodSync(join(out, "natgw.json"), 0o640);
    return out;
  }
  const counter = failing("renameSync", 0, "EACCES");
  writeOutput(previous(), next, "test", { fs: counter });
  const renames = counter.calls();


  it("renames the interim index, every old file aside, every new file in, and the index: the cases below fail at each step", () => {
    expect(renames).toBe(1 + old.length + next.length + 1);
  });

  // The interim index, the first and last old file moved aside, the first, a middle and the last new file, the index.
  for (const nth of [1, 2, 1 + old.length, 2 + old.length, 20 + old.length, 1 + old.length + next.length, renames]) {
    it(`leaves the directory exactly as it was when rename ${nth} of ${renames} fails`, () => {
      const out = previous();
      const before = listing(out);
      expect(() => writeOutput(out, next, "test", { fs: failing("renameSync", nth, "EACCES") })).toThrow(/permission denied \(EACCES\)$/);
      expect(listing(out)).toEqual(before);
    });
  }

  it("leaves the directory exactly as it was when staging runs out of space", () => {
    const out = previous();
    const before = listing(out);
    expect(() => writeOutput(out, next, "test", { fs: failing("writeFileSync", 7, "ENOSPC") })).toThrow(
      new RegExp(`^writing ${out}/.+: no space left on device \\(ENOSPC\\)$`),
    );
    expect(listing(out)).toEqual(before);
  });

  it("says when even the undo fails, and the next build repairs the directory", () => {
    const out = previous();
    const foreign = foreignListing(out, old);
    expect(() => writeOutput(out, next, "test", { fs: failing("renameSync", renames, "EIO", true) })).toThrow(
      /^writing .*natgw\.json: input\/output error \(EIO\)\nnatgw could not undo every step \(input\/output error \(EIO\)\), so .* may hold files of both builds; .*natgw\.json lists them all and the files moved aside are in .*\.natgw-staging-\w+: build again once the cause is fixed$/,
    );
    writeOutput(out, next, "test");
    expectWritten(out, next);
    expect(existsSync(join(out, "hosts/dev-egress-1"))).toBe(false);
    expect(foreignListing(out, next).filter((line) => !line.startsWith(".natgw-staging-"))).toEqual(foreign);
  });
});

describe.skipIf(cannotMount())("the kernel's own errors", () => {
  it("names a read-only file system, and changes nothing", () => {
    withTmpfs("size=16m", (mount) => {
      const out = join(mount, "out");
      writeOutput(out, artifactsOf("examples/ha.yaml"), "test");
      addForeign(out);
      remount(mount, "ro");
      const before = listing(out);
      expect(() => writeOutput(out, artifactsOf(haEdited), "test")).toThrow(`creating a temporary directory in ${out}: read-only file system (EROFS)`);
      expect(listing(out)).toEqual(before);
    });
  });

  it("names EROFS, not a later ENOENT, when natgw must create the directory (natgw build)", () => {
    withTmpfs("ro", (mount) => {
      const result = spawnSync(process.execPath, ["bin/natgw.js", "build", "--out", join(mount, "out"), "examples/ha.yaml"], { encoding: "utf8" });
      expect(result.stderr).toBe(`natgw: cannot write ${mount}/out: creating directory ${mount}/out: read-only file system (EROFS)\n`);
      expect(result.status).toBe(2);
    });
  });

  it("names a full file system, and leaves the directory as it was", () => {
    // Room for one small build and a few more inodes, not for a second, larger one.
    const inodes = listing(writeFresh(artifactsOf("examples/single.yaml"))).length + 12;
    withTmpfs(`nr_inodes=${inodes}`, (mount) => {
      writeOutput(mount, artifactsOf("examples/single.yaml"), "test");
      const before = listing(mount);
      expect(() => writeOutput(mount, artifactsOf("examples/ha.yaml", "examples/single.yaml"), "test")).toThrow(/: no space left on device \(ENOSPC\)$/);
      expect(listing(mount)).toEqual(before);
    });
  });
});

function writeFresh(artifacts: readonly Artifact[]): string {
  const out = freshOut();
  writeOutput(out, artifacts, "test");
  return out;
}
