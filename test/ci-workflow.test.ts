import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { buildExample } from "./support/artifacts.js";
import { missingTools } from "./support/tools.js";

// examples/ci/github-actions.yml, the pipeline README.md's "In a pipeline" points at:
// checked by GitHub's own workflow parser, its shell by shellcheck, and its steps
// run against a real natgw build.
const WORKFLOW = "examples/ci/github-actions.yml";
const text = readFileSync(WORKFLOW, "utf8");

interface Step {
  readonly name?: string;
  readonly uses?: string;
  readonly run?: string;
  readonly env?: Record<string, string>;
}
interface Job {
  readonly if?: string;
  readonly "runs-on": string;
  readonly concurrency?: { readonly group: string; readonly "cancel-in-progress": boolean };
  readonly steps: readonly Step[];
}
const workflow = parse(text) as { on: Record<string, unknown>; jobs: Record<string, Job> };

const scratch = mkdtempSync(join(tmpdir(), "natgw-ci-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The errors @actions/workflow-parser reports for a workflow text (see support/check-workflow.ts). */
function workflowErrors(content: string): string[] {
  const path = join(mkdtempSync(join(scratch, "workflow-")), "natgw.yml");
  writeFileSync(path, content);
  const result = spawnSync(process.execPath, ["--import", "tsx", "test/support/check-workflow.ts", path], { encoding: "utf8" });
  expect(result.status, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as string[];
}

function step(job: string, name: string): Step {
  const found = workflow.jobs[job]?.steps.find((candidate) => candidate.name === name);
  expect(found, `${job} has a step "${name}"`).toBeDefined();
  return found!;
}

describe(WORKFLOW, () => {
  it("is a workflow GitHub's own parser and schema accept", () => {
    expect(workflowErrors(text)).toEqual([]);
  });

  it.each([
    ["a misspelt key", "    runs-on: ubuntu-latest\n", "    runs_on: ubuntu-latest\n", /Unexpected value 'runs_on'/],
    ["an unknown context in an expression", "${{ secrets.HCLOUD_TOKEN }}", "${{ secret.HCLOUD_TOKEN }}", /Unrecognized named-value: 'secret'/],
    ["a value of the wrong type", "cancel-in-progress: false", "cancel-in-progress: sometimes", /Unexpected value 'sometimes'/],
  ])("is rejected by the same parser when broken by %s", (_, from, to, error) => {
    expect(text).toContain(from);
    expect(workflowErrors(text.replace(from, to))).toContainEqual(expect.stringMatching(error));
  });

  it("plans pull requests with the API token alone, and applies pushes to main one at a time with the SSH key", () => {
    expect(workflow.on).toEqual({ pull_request: null, push: { branches: ["main"] } });
    const { plan, apply } = workflow.jobs;
    expect(plan!.if).toMatch(/^github\.event_name == 'pull_request'/);
    expect(apply!.if).toBe("github.event_name == 'push' && github.ref == 'refs/heads/main'");
    expect(JSON.stringify(plan)).not.toMatch(/ssh|SSH/);
    expect(step("plan", "Plan").env).toEqual({ TF_VAR_hcloud_token: "${{ secrets.HCLOUD_TOKEN }}" });
    expect(step("plan", "Plan").run).toMatch(/terraform -chdir="\$stack" init -input=false\n.*\n\s*terraform -chdir="\$stack" plan -input=false/);
    expect(apply!.concurrency).toEqual({ group: "natgw-apply", "cancel-in-progress": false });
    expect(step("apply", "Apply").env).toEqual({
      TF_VAR_hcloud_token: "${{ secrets.HCLOUD_TOKEN }}",
      TF_VAR_ssh_private_key: "${{ secrets.NATGW_SSH_PRIVATE_KEY }}",
    });
    expect(step("apply", "Apply").run).toMatch(/terraform -chdir="\$stack" apply -input=false -lock-timeout=10m tfplan\n/);
    for (const job of ["plan", "apply"]) {
      expect(workflow.jobs[job]!.steps.map((candidate) => candidate.run ?? candidate.uses)).toEqual(
        expect.arrayContaining(["npm ci", "npx natgw validate ./*.natgw.yaml", "npx natgw build ./*.natgw.yaml --out out"]),
      );
    }
  });

  it.skipIf(missingTools("shellcheck"))("has shell that shellcheck passes", () => {
    const scripts = Object.values(workflow.jobs).flatMap((job) => job.steps.flatMap((candidate) => (candidate.run ? [candidate.run] : [])));
    expect(scripts.length).toBeGreaterThan(5);
    for (const script of scripts) {
      const result = spawnSync("shellcheck", ["--shell=bash", "-"], { input: script, encoding: "utf8" });
      expect(result.stdout, script).toBe("");
      expect(result.status).toBe(0);
    }
  });

  it("validates, builds and puts the remote state in place as written, in a repository with natgw installed, and a rebuild keeps it", () => {
    const repository = mkdtempSync(join(scratch, "repository-"));
    mkdirSync(join(repository, "node_modules/.bin"), { recursive: true });
    symlinkSync(resolve("bin/natgw.js"), join(repository, "node_modules/.bin/natgw"));
    writeFileSync(join(repository, "gateways.natgw.yaml"), readFileSync("examples/ha.yaml"));
    mkdirSync(join(repository, "state"));
    const backend = 'terraform {\n  backend "local" { path = "/var/lib/natgw-state/prod-egress.tfstate" }\n}\n';
    writeFileSync(join(repository, "state/prod-egress.tf"), backend);
    // Terraform itself would need the providers from the registry and the Hetzner
    // API; this stand-in records how the steps call it.
    mkdirSync(join(repository, "tools"));
    writeFileSync(join(repository, "tools/terraform"), `#!/bin/sh\necho "$*" >> ${join(repository, "terraform-calls")}\n`);
    chmodSync(join(repository, "tools/terraform"), 0o755);

    const env = { PATH: `${join(repository, "tools")}:${process.env.PATH}`, HOME: repository, npm_config_update_notifier: "false", npm_config_offline: "true" };
    const runStep = (job: string, name: string) => {
      const result = spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", step(job, name).run!], { cwd: repository, env, encoding: "utf8" });
      expect(result.status, `${job} / ${name}: ${result.stderr}`).toBe(0);
      return result.stdout;
    };
    expect(runStep("plan", "Validate")).toBe("valid: 1 file, 1 gateway, 0 policies\n");
    expect(runStep("plan", "Build")).toContain("terraform -chdir=out/stacks/prod-egress init");
    runStep("plan", "Remote state");
    const override = join(repository, "out/stacks/prod-egress/backend_override.tf");
    expect(readFileSync(override, "utf8")).toBe(backend);
    expect(existsSync(join(repository, "out/stacks/prod-egress/cdk.tf.json"))).toBe(true);

    writeFileSync(join(repository, "gateways.natgw.yaml"), readFileSync("examples/ha.yaml", "utf8").replace("198.51.100.7/32", "198.51.100.9/32"));
    expect(runStep("apply", "Build")).toContain("~ stacks/prod-egress/cdk.tf.json");
    expect(readFileSync(override, "utf8")).toBe(backend);
    runStep("plan", "Plan");
    runStep("apply", "Apply");
    expect(readFileSync(join(repository, "terraform-calls"), "utf8")).toBe(
      [
        "-chdir=out/stacks/prod-egress/ init -input=false",
        "-chdir=out/stacks/prod-egress/ plan -input=false -lock-timeout=10m",
        "-chdir=out/stacks/prod-egress/ init -input=false",
        "-chdir=out/stacks/prod-egress/ plan -input=false -lock-timeout=10m -out=tfplan",
        "-chdir=out/stacks/prod-egress/ apply -input=false -lock-timeout=10m tfplan",
        "",
      ].join("\n"),
    );
  });

  it.skipIf(missingTools("terraform"))("relies on Terraform taking backend_override.tf's backend in place of the stack's local one", () => {
    // The stack's own terraform block, alone: providers would need the registry, the backend does not.
    const stack = JSON.parse(buildExample("ha").find((artifact) => artifact.path === "stacks/prod-egress/cdk.tf.json")!.content);
    expect(stack.terraform.backend).toEqual({ local: { path: "terraform.prod-egress.tfstate" } });
    const dir = mkdtempSync(join(scratch, "override-"));
    writeFileSync(join(dir, "cdk.tf.json"), JSON.stringify({ terraform: { backend: stack.terraform.backend }, output: { applied: { value: "yes" } } }));
    writeFileSync(join(dir, "backend_override.tf"), 'terraform {\n  backend "local" { path = "remote.tfstate" }\n}\n');
    const env = { ...process.env, CHECKPOINT_DISABLE: "1", TF_IN_AUTOMATION: "1" };
    for (const args of [["init", "-input=false"], ["apply", "-input=false", "-auto-approve"]]) {
      const result = spawnSync("terraform", [`-chdir=${dir}`, ...args], { encoding: "utf8", env });
      expect(result.status, result.stderr).toBe(0);
    }
    expect(existsSync(join(dir, "remote.tfstate"))).toBe(true);
    expect(existsSync(join(dir, "terraform.prod-egress.tfstate"))).toBe(false);
  });

  it("fails before any plan when a gateway has no remote state", () => {
    const repository = mkdtempSync(join(scratch, "no-state-"));
    mkdirSync(join(repository, "out/stacks/prod-egress"), { recursive: true });
    const result = spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", step("plan", "Remote state").run!], { cwd: repository, encoding: "utf8" });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("state/prod-egress.tf");
  });
});

describe("README.md's In a pipeline", () => {
  it("points at the workflow and names the secrets it uses", () => {
    const readme = readFileSync("README.md", "utf8");
    const start = readme.indexOf("\n## In a pipeline\n");
    expect(start, 'README.md has a "## In a pipeline" section').toBeGreaterThanOrEqual(0);
    const section = readme.slice(start, readme.indexOf("\n## ", start + 1));
    expect(section).toContain(`(${WORKFLOW})`);
    const secrets = [...new Set([...text.matchAll(/\$\{\{ secrets\.(\w+) \}\}/g)].map((match) => match[1]!))];
    expect(secrets.length).toBeGreaterThan(0);
    for (const secret of secrets) expect(section, secret).toContain(`\`${secret}\``);
  });
});
