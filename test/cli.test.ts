import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { load } from "js-yaml";
import { afterAll, describe, expect, it } from "vitest";
import { run } from "../src/cli/main.js";
import type { CliIO } from "../src/cli/io.js";
import { listing } from "./support/output-dir.js";

/** Runs the real bin, as a user would (dist/ is built by the global setup). */
function natgw(args: string[], env: Record<string, string> = {}, cwd?: string) {
  const result = spawnSync(process.execPath, [resolve("bin/natgw.js"), ...args], {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", ...env },
    cwd,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs the CLI in-process with a pretend terminal. */
async function inProcess(args: string[], options: { tty: boolean; env?: Record<string, string> }) {
  let stdout = "";
  let stderr = "";
  const io: CliIO = {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    env: options.env ?? {},
    stdoutIsTTY: options.tty,
    stderrIsTTY: options.tty,
  };
  const code = await run(args, io);
  return { code, stdout, stderr };
}

const scratch = mkdtempSync(join(tmpdir(), "natgw-cli-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const bad = join(scratch, "bad.yaml");
writeFileSync(bad, readFileSync("examples/single.yaml", "utf8").replace("egressIPs:", "egressIps:"));

describe("natgw validate", () => {
  it("exits 0 and says so for the examples", () => {
    const result = natgw(["validate", "examples/single.yaml", "examples/ha.yaml", "examples/policies.yaml", "examples/ports.yaml"]);
    expect(result).toMatchObject({ code: 0, stdout: "valid: 4 files, 4 gateways, 3 policies\n", stderr: "" });
  });

  it("exits 1 with file:line:col diagnostics for a bad spec", () => {
    const result = natgw(["validate", bad]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe(
      `${bad}:21:3: error: unknown field "egressIps" in spec; did you mean \`egressIPs\`? (/spec/egressIps)\n1 error, 0 warnings\n`,
    );
  });

  it("prints the same diagnostics as a JSON array with --format json", () => {
    const result = natgw(["validate", bad, "--format", "json"]);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual([
      {
        file: bad,
        line: 21,
        column: 3,
        severity: "error",
        code: "NATGW102",
        message: 'unknown field "egressIps" in spec',
        hint: "did you mean `egressIPs`?",
        pointer: "/spec/egressIps",
      },
    ]);
  });

  it("prints an empty JSON array for a valid spec", () => {
    expect(natgw(["validate", "examples/ha.yaml", "--format", "json"])).toMatchObject({ code: 0, stdout: "[]\n" });
  });

  it("exits 2 for a file it cannot read, without a stack trace", () => {
    const result = natgw(["validate", join(scratch, "missing.yaml")]);
    expect(result.code).toBe(2);
    expect(result.stdout).toContain("missing.yaml:1:1: error: cannot read the file: no such file");
    expect(result.stdout + result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("natgw build", () => {
  it("exits 1 with the diagnostic, not as a bug, for an ID past 2^53 written in YAML", () => {
    const spec = join(scratch, "huge-id.yaml");
    writeFileSync(spec, readFileSync("examples/ha.yaml", "utf8").replace("    id: 4711\n", "    id: 9007199254740992\n"));
    const result = natgw(["build", spec, "--out", join(scratch, "huge-id-out")]);
    expect(result.stdout + result.stderr).not.toMatch(/internal error|\n\s+at /);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/huge-id\.yaml:14:9: error: spec\.network\.id is 9007199254740992, too large for a Hetzner Cloud ID/);
    expect(existsSync(join(scratch, "huge-id-out"))).toBe(false);
  });
});

describe("natgw explain", () => {
  it("shows a policy flow's egress IP", () => {
    const result = natgw(["explain", "examples/policies.yaml", "--src", "10.20.16.5", "--dst", "203.0.113.10:443"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("policy     payments-api\n");
    expect(result.stdout).toContain("verdict    SNAT to egress IP payments\n");
  });

  it("shows a portsPerSource flow's port block", () => {
    const result = natgw(["explain", "examples/ports.yaml", "--src", "10.30.8.1", "--dst", "192.0.2.1:443", "--proto", "udp"]);
    expect(result.stdout).toContain("ports      2048-3071 (portsPerSource 1024)\n");
  });

  it("answers in JSON with --format json", () => {
    const result = natgw(["explain", "examples/ha.yaml", "--src", "10.0.3.3", "--dst", "192.0.2.1:25", "--format", "json"]);
    expect(JSON.parse(result.stdout)).toMatchObject({ verdict: "dropped", gateway: "prod-egress", diagnostics: [] });
  });

  it("carries the spec's warnings in its JSON answer", () => {
    const open = join(scratch, "open.yaml");
    writeFileSync(open, readFileSync("examples/ha.yaml", "utf8").replace("serverType: cx23", "serverType: cx99"));
    const result = natgw(["explain", open, "--src", "10.0.3.3", "--dst", "192.0.2.1", "--format", "json"]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).diagnostics).toMatchObject([{ code: "NATGW706", severity: "warning" }]);
  });

  it.each([
    [["--src", "fd00::1", "--dst", "192.0.2.1"], /IPv4-only/],
    [["--src", "10.0.0.5", "--dst", "192.0.2.1:70000"], /outside 1-65535/],
    [["--src", "10.0.0.5", "--dst", "192.0.2.1", "--proto", "icmp"], /Allowed choices are tcp, udp/],
    [["--dst", "192.0.2.1"], /required option '--src <ip>'/],
  ])("exits 2 on a bad flow: %j", (args, message) => {
    const result = natgw(["explain", "examples/ha.yaml", ...args]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it("exits 1 and prints the diagnostics when the spec is invalid", () => {
    const result = natgw(["explain", bad, "--src", "10.1.0.5", "--dst", "192.0.2.1"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("did you mean `egressIPs`?");
  });
});

describe("natgw", () => {
  it("prints the schema", () => {
    const result = natgw(["schema"]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).$id).toBe("https://natgw.dev/schema/v1alpha1/natgw.schema.json");
  });

  it("prints the absolute path of the schema file it prints, with schema --path", () => {
    const result = natgw(["schema", "--path"], {}, scratch);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toBe(`${resolve("schema/natgw.schema.json")}\n`);
    expect(readFileSync(result.stdout.trimEnd(), "utf8")).toBe(natgw(["schema"]).stdout);
  });

  it("prints its version and help, exit 0", () => {
    expect(natgw(["--version"])).toMatchObject({ code: 0, stdout: `${JSON.parse(readFileSync("package.json", "utf8")).version}\n` });
    const help = natgw(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/validate .*\n(.*\n)*\s+explain .*\n(.*\n)*\s+schema/);
    expect(natgw(["help", "explain"])).toMatchObject({ code: 0, stdout: expect.stringContaining("--src <ip>") });
  });

  it.each([[[]], [["frobnicate"]], [["validate"]], [["validate", "--format", "xml", "examples/ha.yaml"]]])(
    "exits 2 on a usage error: %j",
    (args) => {
      expect(natgw(args).code).toBe(2);
    },
  );

  it("colours diagnostics on a terminal", async () => {
    const result = await inProcess(["validate", bad], { tty: true });
    expect(result.stdout).toContain("\u001b[31merror:");
  });

  it("never colours with NO_COLOR, nor off a terminal", async () => {
    expect((await inProcess(["validate", bad], { tty: true, env: { NO_COLOR: "1" } })).stdout).not.toContain("\u001b[");
    expect((await inProcess(["validate", bad], { tty: false })).stdout).not.toContain("\u001b[");
  });
});

describe("natgw build", () => {
  /** A folder with a natgw build of examples/ha.yaml in it, and what `terraform init && terraform apply` and git leave there. */
  function builtAndApplied(name: string): string {
    const out = join(scratch, name);
    expect(natgw(["build", "examples/ha.yaml", "--out", out]).code).toBe(0);
    mkdirSync(join(out, "stacks/prod-egress/.terraform/providers"), { recursive: true });
    writeFileSync(join(out, "stacks/prod-egress/.terraform/providers/terraform-provider-hcloud"), "\u007fELF");
    writeFileSync(join(out, "stacks/prod-egress/.terraform.lock.hcl"), 'provider "registry.terraform.io/hetznercloud/hcloud" {}\n');
    writeFileSync(join(out, "stacks/prod-egress/terraform.prod-egress.tfstate"), '{"version":4,"serial":3}\n');
    mkdirSync(join(out, ".git"));
    writeFileSync(join(out, ".git/HEAD"), "ref: refs/heads/main\n");
    return out;
  }
  const foreign = (out: string) => listing(out).filter((line) => /^(\.git|stacks\/prod-egress\/(\.terraform|terraform\.))/.test(line));

  it("keeps Terraform state, .terraform/ and the lock file when the spec changes and it builds again", () => {
    const out = builtAndApplied("applied");
    const before = foreign(out);
    const edited = join(scratch, "ha-edited.yaml");
    writeFileSync(edited, readFileSync("examples/ha.yaml", "utf8").replace("198.51.100.7/32", "198.51.100.9/32"));
    const files = (JSON.parse(readFileSync(join(out, "natgw.json"), "utf8")) as { artifacts: unknown[] }).artifacts.length;
    const result = natgw(["build", edited, "--out", out]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const counts = /^.*: added (\d+), changed (\d+), removed (\d+), unchanged (\d+)\n/.exec(result.stdout)!.slice(1).map(Number);
    expect(counts[0]! + counts[1]! + counts[3]!).toBe(files);
    expect(foreign(out)).toEqual(before);
    expect(before).toHaveLength(7);
    expect(readFileSync(join(out, "stacks/prod-egress/cdk.tf.json"), "utf8")).toContain("198.51.100.9/32");
  });

  it("refuses a folder whose natgw.json is a JSON spec, not natgw's index, and changes nothing", () => {
    const out = builtAndApplied("spec-index");
    writeFileSync(join(out, "natgw.json"), JSON.stringify(load(readFileSync("examples/ha.yaml", "utf8"))));
    const before = listing(out);
    const result = natgw(["build", "examples/ha.yaml", "--out", out]);
    expect(result.stderr).toBe(
      `natgw: cannot write ${out}: ${out}/natgw.json is not an index natgw wrote (it is not an object with exactly "generator" and "artifacts"); natgw changes only the files its own natgw.json lists, so it changed nothing: move that file away, or choose another --out\n`,
    );
    expect(result.code).toBe(2);
    expect(listing(out)).toEqual(before);
  });

  it("refuses `build natgw.json --out .`: the spec is in the output folder", () => {
    const folder = builtAndApplied("spec-in-out");
    writeFileSync(join(folder, "natgw.json"), JSON.stringify(load(readFileSync("examples/ha.yaml", "utf8"))));
    const before = listing(folder);
    const result = natgw(["build", "natgw.json", "--out", "."], {}, folder);
    expect(result.stderr).toBe(
      "natgw: cannot write .: the spec file natgw.json is inside ., where natgw replaces and removes files; keep specs outside the output directory, or choose another --out\n",
    );
    expect(result.code).toBe(2);
    expect(listing(folder)).toEqual(before);
  });

  it("refuses a spec inside --out reached through a symbolic link", () => {
    const out = builtAndApplied("spec-via-link");
    writeFileSync(join(out, "gateways.yaml"), readFileSync("examples/ha.yaml"));
    symlinkSync(out, join(scratch, "specs"));
    const before = listing(out);
    const result = natgw(["build", join(scratch, "specs/gateways.yaml"), "--out", out]);
    expect(result.stderr).toMatch(/^natgw: cannot write .*: the spec file .*specs\/gateways\.yaml is inside /);
    expect(result.code).toBe(2);
    expect(listing(out)).toEqual(before);
  });

  it("refuses an --out that is a symbolic link, and names its target", () => {
    const target = builtAndApplied("link-target");
    const link = join(scratch, "out-link");
    symlinkSync(target, link);
    const before = listing(target);
    const result = natgw(["build", "examples/ha.yaml", "--out", link]);
    expect(result.stderr).toBe(
      `natgw: cannot write ${link}: ${link} is a symbolic link to ${target}; natgw writes only into a real directory, so that what it owns is where --out says: pass --out ${target}\n`,
    );
    expect(result.code).toBe(2);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(listing(target)).toEqual(before);
  });

  it("refuses an --out that is a file", () => {
    const file = join(scratch, "out-file");
    writeFileSync(file, "mine\n");
    expect(natgw(["build", "examples/ha.yaml", "--out", file])).toMatchObject({
      code: 2,
      stderr: `natgw: cannot write ${file}: ${file} exists and is a file, not a directory\n`,
    });
    expect(readFileSync(file, "utf8")).toBe("mine\n");
  });
});
