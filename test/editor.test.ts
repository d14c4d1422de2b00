import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { editorDiagnostics } from "./support/yaml-language-server.js";

// What an editor shows for natgw specs, asked of the real yaml-language-server with
// the association README.md recommends, on the README's own example.
const readme = readFileSync("README.md", "utf8");
const schema = JSON.parse(readFileSync("schema/natgw.schema.json", "utf8")) as { $id: string };
const packageJson = JSON.parse(readFileSync("package.json", "utf8")) as { exports: Record<string, unknown> };

/** The text under a heading (any level), up to the next heading of the same or a higher level outside a code block. */
function section(heading: string): string {
  const lines = readme.split("\n");
  const start = lines.indexOf(heading);
  expect(start, `README.md has no "${heading}" heading`).toBeGreaterThanOrEqual(0);
  const level = heading.indexOf(" ");
  let inCode = false;
  const end = lines.findIndex((line, index) => {
    if (index <= start) return false;
    if (line.startsWith("```")) inCode = !inCode;
    return !inCode && /^#+ /.test(line) && line.indexOf(" ") <= level;
  });
  return lines.slice(start + 1, end === -1 ? undefined : end).join("\n");
}

function codeBlocks(text: string, language: string): string[] {
  return [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].filter((match) => match[1] === language).map((match) => match[2]!);
}

const brief = section("## The spec in brief");
const example = codeBlocks(brief, "yaml").find((block) => block.includes("kind: EgressNATPolicy"));
const exampleName = /A spec file, `([^`]+)`/.exec(brief)?.[1];
const editor = section("### Schema validation in the editor");
const settings = JSON.parse(codeBlocks(editor, "json")[0] ?? "{}") as Record<string, unknown>;
const associations = (settings["yaml.schemas"] ?? {}) as Record<string, string[]>;
const perDocumentComment = codeBlocks(editor, "yaml").find((block) => block.startsWith("# yaml-language-server: $schema="))?.trim();

/** The first line README.md used to show: it reaches only the document it heads, and only from the top folder. */
const FIRST_LINE_COMMENT = "# yaml-language-server: $schema=./node_modules/natgw/schema/natgw.schema.json";

/** The example with `egressIP` misspelt in its second document, the EgressNATPolicy, and the line of the typo. */
function withPolicyTypo(spec: string): { text: string; line: number } {
  const documents = spec.split(/^---\n/m);
  expect(documents[1], "the example's second document").toMatch(/kind: EgressNATPolicy\n[\s\S]*^ {2}egressIP: /m);
  documents[1] = documents[1]!.replace(/^ {2}egressIP: /m, "  egressIp: ");
  const text = documents.join("---\n");
  return { text, line: text.split("\n").findIndex((line) => line.startsWith("  egressIp: ")) };
}

const workspace = mkdtempSync(join(tmpdir(), "natgw-editor-"));
afterAll(() => rmSync(workspace, { recursive: true, force: true }));

/** A fresh workspace folder with natgw installed as npm installs it: the schema at the path its package exports. */
function workspaceWith(files: Record<string, string>): string {
  const root = mkdtempSync(join(workspace, "folder-"));
  const exported = packageJson.exports["./schema"];
  expect(exported, 'package.json exports "./schema"').toEqual(expect.any(String));
  const installed = join(root, "node_modules", "natgw", exported as string);
  mkdirSync(dirname(installed), { recursive: true });
  copyFileSync("schema/natgw.schema.json", installed);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe("the editor association README.md shows", () => {
  it("names the installed schema in yaml.schemas, for file names the README's example follows", () => {
    expect(Object.keys(associations)).toEqual(["./node_modules/natgw/schema/natgw.schema.json"]);
    expect(example, "a two-document example in The spec in brief").toBeDefined();
    expect(exampleName).toMatch(/\.natgw\.yaml$/);
  });

  it("reports an egressIp typo in the second document, at the top and in subfolders, for every file name pattern, and only there", async () => {
    const typo = withPolicyTypo(example!);
    const patterns = Object.values(associations).flat();
    expect(patterns.length).toBeGreaterThan(0);
    const specs: Record<string, string> = { [exampleName!]: typo.text };
    for (const pattern of patterns) specs[`infra/prod/${pattern.replace("*", "gateways")}`] = typo.text;
    const others = ["values.yaml", "infra/prod/natgw.yaml.orig"];
    const files = { ...specs, ...Object.fromEntries(others.map((path) => [path, typo.text])) };
    const diagnostics = await editorDiagnostics(workspaceWith(files), settings, Object.keys(files));
    for (const path of Object.keys(specs)) {
      expect(diagnostics[path]!.map((d) => [d.range.start.line, d.message]), path).toEqual([[typo.line, "Property egressIp is not allowed."]]);
    }
    for (const path of others) expect(diagnostics[path], path).toEqual([]);
  });

  it("finds nothing wrong in the README's example as written", async () => {
    const diagnostics = await editorDiagnostics(workspaceWith({ [exampleName!]: example! }), settings, [exampleName!]);
    expect(diagnostics[exampleName!]).toEqual([]);
  });

  it("with its comment after every ---, reports the typo in the second document of a spec in a subfolder", async () => {
    expect(perDocumentComment).toBeDefined();
    const typo = withPolicyTypo(example!);
    const text = `${perDocumentComment}\n${typo.text.replace(/^---\n/gm, `---\n${perDocumentComment}\n`)}`;
    const diagnostics = await editorDiagnostics(workspaceWith({ "infra/gateways.yaml": text }), {}, ["infra/gateways.yaml"]);
    expect(diagnostics["infra/gateways.yaml"]!.map((d) => d.message)).toEqual(["Property egressIp is not allowed."]);
  });
});

// Why README.md no longer shows a first-line comment: the two problems it had, as the
// real tool shows them.
describe("a first-line schema comment alone", () => {
  it("checks the first document but not the second", async () => {
    const typo = withPolicyTypo(example!);
    const firstTypo = `${FIRST_LINE_COMMENT}\n${example!.replace("  egressIPs:", "  egressIps:")}`;
    const files = { "policy-typo.yaml": `${FIRST_LINE_COMMENT}\n${typo.text}`, "gateway-typo.yaml": firstTypo };
    const diagnostics = await editorDiagnostics(workspaceWith(files), {}, Object.keys(files));
    expect(diagnostics["gateway-typo.yaml"]!.map((d) => d.message)).toEqual(["Property egressIps is not allowed."]);
    expect(diagnostics["policy-typo.yaml"]).toEqual([]);
  });

  it("names no schema for a spec in a subfolder", async () => {
    const diagnostics = await editorDiagnostics(workspaceWith({ "infra/gateways.yaml": `${FIRST_LINE_COMMENT}\n${example!}` }), {}, ["infra/gateways.yaml"]);
    expect(diagnostics["infra/gateways.yaml"]!.map((d) => d.message)).toEqual([
      expect.stringMatching(/^Unable to load schema from '.*\/infra\/node_modules\/natgw\/schema\/natgw\.schema\.json'/),
    ]);
  });
});

describe("schema/catalog.json", () => {
  const catalog = JSON.parse(readFileSync("schema/catalog.json", "utf8")) as {
    $schema: string;
    version: number;
    schemas: { name: string; description: string; fileMatch: string[]; url: string }[];
  };

  it("is one entry in SchemaStore's catalog format", () => {
    expect(catalog.$schema).toBe("https://json.schemastore.org/schema-catalog.json");
    expect(catalog.version).toBe(1);
    expect(catalog.schemas).toHaveLength(1);
    expect(Object.keys(catalog.schemas[0]!).sort()).toEqual(["description", "fileMatch", "name", "url"]);
    expect(catalog.schemas[0]!.name).toBe("natgw");
  });

  it("points at the schema's $id, for the file names the README maps to the schema", () => {
    expect(catalog.schemas[0]!.url).toBe(schema.$id);
    expect(catalog.schemas[0]!.fileMatch).toEqual(Object.values(associations).flat());
    expect(editor).toContain("`schema/catalog.json`");
  });
});
