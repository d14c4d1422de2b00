import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatBuildReport, nextSteps } from "../src/cli/build-report.js";
import { compareIndexes } from "../src/write/changes.js";
import { indexEntries, type IndexEntry } from "../src/write/index-file.js";
import { buildExample } from "./support/artifacts.js";

const scratch = mkdtempSync(join(tmpdir(), "natgw-report-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The real bin, as in test/cli.test.ts (dist/ is built by the global setup). */
function natgw(args: string[], cwd?: string) {
  const result = spawnSync(process.execPath, [resolve("bin/natgw.js"), ...args], { encoding: "utf8", env: { PATH: process.env.PATH ?? "" }, cwd });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function entry(path: string, fields: Partial<IndexEntry> = {}): IndexEntry {
  return { path, role: "config", gateway: null, member: null, mode: "0644", sha256: "a".repeat(64), ...fields };
}

function spec(name: string, edit: (text: string) => string = (text) => text): string {
  const path = join(scratch, `${name}.yaml`);
  writeFileSync(path, edit(readFileSync("examples/ha.yaml", "utf8")));
  return path;
}

describe("compareIndexes", () => {
  it("counts every file as added when there was no index before", () => {
    const next = [entry("b"), entry("a")];
    expect(compareIndexes(null, next)).toEqual({ firstBuild: true, added: ["a", "b"], changed: [], removed: [], unchanged: [] });
  });

  it("compares path, sha256 and mode, and sorts each list by bytes", () => {
    const previous = [entry("same"), entry("edited"), entry("chmod"), entry("gone/Z"), entry("gone/a")];
    const next = [entry("same"), entry("edited", { sha256: "b".repeat(64) }), entry("chmod", { mode: "0755" }), entry("new")];
    expect(compareIndexes(previous, next)).toEqual({
      firstBuild: false,
      added: ["new"],
      changed: ["chmod", "edited"],
      removed: ["gone/Z", "gone/a"],
      unchanged: ["same"],
    });
  });

  it("tells an empty previous index from none", () => {
    expect(compareIndexes([], [entry("a")]).firstBuild).toBe(false);
  });
});

describe("nextSteps", () => {
  it("finds each gateway's stack, the workers' files, the host files, the page and monitoring in examples/policies.yaml", () => {
    expect(nextSteps(indexEntries(buildExample("policies")))).toEqual({
      stacks: [{ gateway: "edge-egress", directory: "stacks/edge-egress" }],
      modules: [{ gateway: "edge-egress", directory: "modules/edge-egress" }],
      workerFiles: ["nodes"],
      hostFiles: ["hosts"],
      diagrams: [{ gateway: "edge-egress", path: "diagrams/edge-egress.md" }],
      monitoring: ["monitoring"],
    });
  });

  it("finds a gateway's Terraform files outside its stack as a module, by role and gateway, wherever they are", () => {
    const entries = [
      entry("stacks/a/cdk.tf.json", { role: "terraform", gateway: "a" }),
      entry("manifest.json", { role: "terraform" }),
      entry("modules/a/main.tf.json", { role: "terraform", gateway: "a" }),
      entry("modules/a/files/hosts/a-1/etc/natgw/config.json", { role: "terraform", gateway: "a", member: "a-1" }),
      entry("hosts/a-1/etc/natgw/config.json", { role: "config", gateway: "a", member: "a-1" }),
    ];
    expect(nextSteps(entries)).toEqual({
      stacks: [{ gateway: "a", directory: "stacks/a" }],
      modules: [{ gateway: "a", directory: "modules/a" }],
      workerFiles: [],
      hostFiles: ["hosts"],
      diagrams: [],
      monitoring: [],
    });
  });
});

describe("formatBuildReport", () => {
  const entries = indexEntries(buildExample("ha"));

  it("says a first build is one, with the count and the next steps", () => {
    expect(formatBuildReport("out", entries, compareIndexes(null, entries))).toBe(
      [
        `first build in out: ${entries.length} files, listed in out/natgw.json`,
        "",
        "next:",
        "  terraform -chdir=out/stacks/prod-egress init && terraform -chdir=out/stacks/prod-egress plan",
        "  out/modules/prod-egress/: prod-egress as a Terraform module, to call from a configuration of your own instead of its stack",
        "  out/nodes/: into each worker's user-data: its default route via the network's router, whose routes lead to the gateway",
        "  out/diagrams/prod-egress.md: prod-egress at a glance: its picture (Mermaid), egress IPs, policies and capacity",
        "  out/monitoring/: scrape configs, alert rules and Grafana dashboards, for your Prometheus or VictoriaMetrics",
        "  out/hosts/: reference copies of what the stacks send to the members; nothing to copy by hand",
        "",
      ].join("\n"),
    );
  });

  it("shows a directory whose every file was added or removed as one line, and each changed file", () => {
    const previous = [entry("hosts/old-1/a"), entry("hosts/old-1/b/c"), entry("nodes/x"), entry("nodes/y"), entry("stacks/s/cdk.tf.json", { role: "terraform", gateway: "s" })];
    const next = [
      entry("hosts/new-1/a"),
      entry("hosts/new-1/b"),
      entry("nodes/x", { sha256: "b".repeat(64) }),
      entry("nodes/z"),
      entry("stacks/s/cdk.tf.json", { role: "terraform", gateway: "s" }),
    ];
    const report = formatBuildReport("out", next, compareIndexes(previous, next));
    expect(report.slice(0, report.indexOf("\n\nnext:"))).toBe(
      [
        "out: added 3, changed 1, removed 3, unchanged 1",
        "  + hosts/new-1/ (2 files)",
        "  + nodes/z",
        "  ~ nodes/x",
        "  - hosts/old-1/ (2 files)",
        "  - nodes/y",
      ].join("\n"),
    );
  });

  it("names a module only when the build has one", () => {
    const line = "  out/modules/prod-egress/: prod-egress as a Terraform module, to call from a configuration of your own instead of its stack";
    expect(formatBuildReport("out", entries, compareIndexes(null, entries)).split("\n")).toContain(line);
    const withoutModule = entries.filter((item) => !item.path.startsWith("modules/"));
    expect(formatBuildReport("out", withoutModule, compareIndexes(null, withoutModule))).not.toContain("module");
  });

  it("quotes an output directory the shell would split", () => {
    expect(formatBuildReport("my out", entries, compareIndexes(null, entries))).toContain(
      "  terraform -chdir='my out/stacks/prod-egress' init && terraform -chdir='my out/stacks/prod-egress' plan\n",
    );
  });
});

describe("natgw build's report", () => {
  const sshChanged = spec("ha-ssh", (text) => text.replace("198.51.100.7/32", "198.51.100.9/32"));

  it("prints what README.md shows for a rebuild after a change of sshAllowedCIDRs", () => {
    const readme = readFileSync("README.md", "utf8");
    const shown = /After a change of `sshAllowedCIDRs` in `examples\/ha\.yaml`:\n\n```text\n([\s\S]*?)```\n/.exec(readme)?.[1];
    expect(shown, "the sample in README.md").toBeDefined();
    const repository = mkdtempSync(join(scratch, "repository-"));
    const first = natgw(["build", resolve("examples/ha.yaml"), "--out", "out"], repository);
    expect(first).toMatchObject({ code: 0, stderr: "" });
    expect(first.stdout).toMatch(/^first build in out: \d+ files, listed in out\/natgw\.json\n/);
    expect(natgw(["build", sshChanged, "--out", "out"], repository)).toMatchObject({ code: 0, stderr: "", stdout: shown });
  });

  it("shows a removed gateway's member directory as one line, and says when nothing changed", () => {
    const out = join(scratch, "rebuilt");
    expect(natgw(["build", sshChanged, "examples/single.yaml", "--out", out]).code).toBe(0);

    const removed = natgw(["build", sshChanged, "--out", out]);
    expect(removed.stdout).toMatch(new RegExp(`^${out}: added 0, changed 0, removed 30, unchanged \\d+\n`));
    expect(removed.stdout).toContain(["  - diagrams/dev-egress.md", "  - hosts/dev-egress-1/ (20 files)", "  - modules/dev-egress/main.tf.json", "  - monitoring/dev-egress-alerts.yaml", "  - monitoring/dev-egress-dashboard.json", "  - monitoring/dev-egress-scrape.yaml"].join("\n"));
    expect(removed.stdout).toContain("  - stacks/dev-egress/cdk.tf.json\n\nnext:\n");
    expect(removed.stdout).not.toContain("stacks/dev-egress init");

    const again = natgw(["build", sshChanged, "--out", out]);
    expect(again.stdout).toMatch(new RegExp(`^${out}: nothing changed since the previous build \\(\\d+ files\\)\n\nnext:\n`));

    // Scripts read --format json, which stays the diagnostics array and nothing else.
    expect(natgw(["build", sshChanged, "--out", out, "--format", "json"])).toMatchObject({ code: 0, stdout: "[]\n" });
  });
});
