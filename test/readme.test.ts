import { spawnSync } from "node:child_process";
import { accessSync, constants, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { compile, compileSources } from "../src/compile.js";
import { emitDiagrams } from "../src/emit/diagram.js";
import { currentSpecReference, renderSpecReference, withSpecReference } from "../scripts/spec-reference.js";

// The README is checked against what it describes: the schema, the CLI's own help,
// .ci/run and package.json, and the output of the commands it shows.
const readme = readFileSync("README.md", "utf8");
const ciScript = readFileSync(".ci/run", "utf8");
const packageScripts = (JSON.parse(readFileSync("package.json", "utf8")) as { scripts: Record<string, string> }).scripts;

/** The text under a `## heading`, up to the next heading of level 2. */
function section(heading: string): string {
  const lines = readme.split("\n");
  const start = lines.indexOf(`## ${heading}`);
  expect(start, `README.md has no "## ${heading}" section`).toBeGreaterThanOrEqual(0);
  const end = lines.findIndex((line, index) => index > start && line.startsWith("## "));
  return lines.slice(start + 1, end === -1 ? undefined : end).join("\n");
}

function codeBlocks(text: string): { language: string; body: string }[] {
  return [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((match) => ({ language: match[1]!, body: match[2]! }));
}

function run(command: string, cwd = "."): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync("bash", ["-c", command], { cwd, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function natgw(...args: string[]): string {
  const result = spawnSync(process.execPath, ["bin/natgw.js", ...args], { encoding: "utf8" });
  expect(result.status, `natgw ${args.join(" ")} failed: ${result.stderr}`).toBe(0);
  return result.stdout;
}

/** Whether `text` names `option` as a flag (after a space, a backtick or a bracket), not inside a word. */
function mentionsOption(text: string, option: string): boolean {
  return new RegExp(`(^|[\\s\`[|])${option}(?![-A-Za-z])`, "m").test(text);
}

/** Commands and option flags of one `--help` text, as commander prints them. */
function parseHelp(text: string): { commands: string[]; options: string[]; choices: string[] } {
  const block = (title: string) => {
    const match = new RegExp(`^${title}:\\n((?:  .*\\n?)*)`, "m").exec(text);
    return match ? match[1]!.split("\n").filter((line) => /^ {2}\S/.test(line)) : [];
  };
  const commands = block("Commands").map((line) => line.trim().split(/\s+/)[0]!);
  const options = block("Options").flatMap((line) => line.trim().split(/\s{2,}/)[0]!.match(/--?[A-Za-z][-A-Za-z]*/g) ?? []);
  const choices = [...text.matchAll(/choices: ([^)]*?)(?:, default|\))/g)].flatMap((match) => [...match[1]!.matchAll(/"([^"]+)"/g)].map((m) => m[1]!));
  return { commands, options, choices };
}

describe("README spec reference", () => {
  it("matches the schema (run `npm run generate` when this fails)", () => {
    expect(currentSpecReference(readme)).toBe(renderSpecReference());
    expect(withSpecReference(readme)).toBe(readme);
  });

  it("is the same text on every run", () => {
    expect(renderSpecReference()).toBe(renderSpecReference());
  });

  it("lists nested fields as dotted paths, for both kinds", () => {
    const reference = renderSpecReference();
    expect(reference).toContain("### NatGateway");
    expect(reference).toContain("### EgressNATPolicy");
    for (const path of ["spec.network.ipRange", "spec.egressIPs[].name", "spec.cluster.controlPlane.privateOnly", "spec.sources[].cidr", "spec.gatewayRef.name"]) {
      expect(reference).toContain(`| \`${path}\` |`);
    }
  });

  it("has four cells in every table row, with every | inside a cell escaped", () => {
    const rows = renderSpecReference().split("\n").filter((line) => line.startsWith("|"));
    expect(rows.length).toBeGreaterThan(20);
    for (const row of rows) {
      const unescaped = row.replace(/\\\|/g, "").split("|").length - 1;
      expect(unescaped, row).toBe(5);
    }
  });
});

describe("README CLI reference", () => {
  const reference = section("CLI reference");
  const rootHelp = natgw("--help");
  const root = parseHelp(rootHelp);

  it("finds commands and options in the CLI's help", () => {
    expect(root.commands).toEqual(expect.arrayContaining(["validate", "explain", "schema"]));
    expect(root.options).toEqual(expect.arrayContaining(["--help", "--version"]));
  });

  it("mentions every command and global option that `natgw --help` lists", () => {
    for (const command of root.commands) expect(reference, `natgw ${command}`).toContain(`natgw ${command}`);
    for (const option of root.options) expect(mentionsOption(reference, option), option).toBe(true);
  });

  for (const command of root.commands.filter((name) => name !== "help")) {
    it(`mentions every option and choice of \`natgw ${command} --help\``, () => {
      const help = parseHelp(natgw(command, "--help"));
      for (const option of help.options) expect(mentionsOption(reference, option), `${command} ${option}`).toBe(true);
      for (const choice of help.choices) expect(reference, `${command} choice ${choice}`).toContain(`\`${choice}\``);
    });
  }

  it("lists every exit code the help names, and 3 for a bug", () => {
    const codes = [...(/Exit codes: ([^\n]*)/.exec(rootHelp)?.[1] ?? "").matchAll(/(\d+) /g)].map((match) => match[1]!);
    expect(codes.length).toBeGreaterThan(0);
    for (const code of [...codes, "3"]) expect(reference).toMatch(new RegExp(`^\\| ${code} \\|`, "m"));
  });

  it("shows what the example commands really print", () => {
    const examples = codeBlocks(reference).filter((block) => block.body.startsWith("$ node bin/natgw.js "));
    expect(examples.length).toBeGreaterThan(0);
    for (const example of examples) {
      const [first, ...output] = example.body.split("\n");
      const result = run(first!.slice(2));
      expect(result.stdout, first).toBe(output.join("\n"));
    }
  });
});

describe("README quick start", () => {
  const quickStart = section("Quick start");
  const commandBlock = codeBlocks(quickStart).find((block) => block.language === "sh");
  const commands = (commandBlock?.body ?? "").split("\n").filter((line) => line.trim() !== "" && !line.startsWith("#"));

  it("has exactly two commands", () => {
    expect(commands).toHaveLength(2);
  });

  it("tests with the script CI runs, which runs `npm ci` and `npm test` and not itself", () => {
    expect(commands[1]).toBe("bash .ci/run");
    accessSync(".ci/run", constants.X_OK);
    expect(ciScript).toMatch(/^\s*npm ci\b/m);
    expect(ciScript).toMatch(/\bnpm test -- /);
    expect(ciScript).not.toMatch(/\.ci\/run/);
    expect(packageScripts.test).toBe("vitest run");
  });

  it("installs as CI does and uses only scripts package.json has", () => {
    const steps = commands[0]!.split("&&").map((step) => step.trim());
    expect(steps[0]).toBe("npm ci");
    for (const step of steps.filter((candidate) => candidate.startsWith("npm run "))) {
      expect(packageScripts, step).toHaveProperty(step.split(/\s+/)[2]!);
    }
  });

  it("runs the examples and prints what the README shows", () => {
    // `npm ci` and the build have been done for this test run (test/support/build.ts).
    const steps = commands[0]!.split("&&").map((step) => step.trim()).filter((step) => step.startsWith("node bin/natgw.js "));
    expect(steps.some((step) => step.startsWith("node bin/natgw.js build "))).toBe(true);
    // A checkout of its own, linked to this one, so the build's out/ is a first build and leaves the repository as it was.
    const checkout = mkdtempSync(join(tmpdir(), "natgw-quick-start-"));
    onTestFinished(() => rmSync(checkout, { recursive: true, force: true }));
    for (const entry of ["bin", "dist", "examples", "node_modules", "package.json", "programs", "schema", "templates"]) {
      symlinkSync(resolve(entry), join(checkout, entry));
    }
    const output = steps
      .map((step) => {
        const result = run(step, checkout);
        expect(result.status, `${step}: ${result.stderr}`).toBe(0);
        return result.stdout;
      })
      .join("");
    const shown = codeBlocks(quickStart).find((block) => block.language === "text");
    expect(shown?.body).toBe(output);
  });
});

describe("README examples", () => {
  it("pictures examples/policies.yaml as its topology page does", () => {
    const [page] = emitDiagrams(compile(["examples/policies.yaml"]).model!);
    const picture = (text: string) => codeBlocks(text).filter((block) => block.language === "mermaid");
    expect(picture(section("The spec in brief"))).toEqual(picture(page!.content));
  });

  it("describes every file in examples/", () => {
    for (const file of readdirSync("examples").filter((name) => /\.(ya?ml|json)$/.test(name))) {
      expect(readme, file).toContain(`examples/${file}`);
    }
  });

  it("shows specs that validate without errors", () => {
    const specs = codeBlocks(readme).filter((block) => block.language === "yaml" && block.body.includes("apiVersion:"));
    expect(specs.length).toBeGreaterThan(0);
    for (const [index, spec] of specs.entries()) {
      const result = compileSources([{ path: `README.md yaml block ${index + 1}`, text: spec.body }]);
      expect(result.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
      expect(result.model).toBeDefined();
    }
  });
});
