import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { compileSources } from "../src/compile.js";
import { load } from "../src/load/load.js";
import { MAX_NESTING_DEPTH, scanNesting } from "../src/load/nesting.js";

const HEADER = "apiVersion: natgw.dev/v1alpha1\nkind: NatGateway\n";

/**
 * Documents whose lists and mappings nest `levels` deep, counting the document's
 * own mapping (or, in JSON, its own list), with where level `MAX + 1` opens.
 */
const shapes = {
  "YAML block mappings": (levels: number) => ({
    path: "deep.yaml",
    text: `${HEADER}spec:\n${Array.from({ length: levels - 1 }, (_, i) => `${"  ".repeat(i + 1)}a:${i === levels - 2 ? " 1" : ""}`).join("\n")}\n`,
    crossing: { line: 3 + MAX_NESTING_DEPTH, column: 2 * MAX_NESTING_DEPTH + 1 },
  }),
  "YAML block sequences on one line": (levels: number) => ({
    path: "deep.yaml",
    text: `${HEADER}spec:\n${"- ".repeat(levels - 1)}1\n`,
    crossing: { line: 4, column: 2 * (MAX_NESTING_DEPTH - 1) + 1 },
  }),
  "YAML flow sequences": (levels: number) => ({
    path: "deep.yaml",
    text: `${HEADER}spec: ${"[".repeat(levels - 1)}${"]".repeat(levels - 1)}\n`,
    crossing: { line: 3, column: 7 + MAX_NESTING_DEPTH - 1 },
  }),
  JSON: (levels: number) => ({
    path: "deep.json",
    text: `${"[".repeat(levels)}${"]".repeat(levels)}`,
    crossing: { line: 1, column: MAX_NESTING_DEPTH + 1 },
  }),
};

function depthOf(value: unknown): number {
  if (value === null || typeof value !== "object") return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + children.reduce<number>((deepest, child) => Math.max(deepest, depthOf(child)), 0);
}

describe("nesting depth", () => {
  for (const [name, shape] of Object.entries(shapes)) {
    it(`${name}: ${MAX_NESTING_DEPTH} levels load, and the yaml library agrees on the depth`, () => {
      const { path, text } = shape(MAX_NESTING_DEPTH);
      expect(load([{ path, text }]).diagnostics.map((d) => d.code)).not.toContain("NATGW014");
      expect(scanNesting(text).depth).toBe(MAX_NESTING_DEPTH);
      expect(depthOf((parseAllDocuments(text) as { toJS(): unknown }[])[0]!.toJS())).toBe(MAX_NESTING_DEPTH);
    });

    it(`${name}: ${MAX_NESTING_DEPTH + 1} levels give one diagnostic where the limit is crossed`, () => {
      const { path, text, crossing } = shape(MAX_NESTING_DEPTH + 1);
      const result = load([{ path, text }]);
      expect(result.documents).toEqual([]);
      expect(result.diagnostics).toMatchObject([{ code: "NATGW014", severity: "error", file: path, ...crossing }]);
    });

    // Indentation grows with depth, so block mappings reach at most ~4,000 levels within the 16 MiB file limit.
    const deepest = name === "YAML block mappings" ? 2_000 : 100_000;
    it(`${name}: ${deepest.toLocaleString("en")} levels give the same diagnostic at the same place, through the whole compiler`, () => {
      const { path, text, crossing } = shape(deepest);
      const result = compileSources([{ path, text }]);
      expect(result.model).toBeUndefined();
      expect(result.diagnostics).toMatchObject([{ code: "NATGW014", file: path, ...crossing }]);
    });
  }

  it("a quote inside a flow plain scalar opens no string, so the brackets after it still count", () => {
    const text = `${HEADER}spec: [a'b, a:'b, ${"[".repeat(100_000)}]\n`;
    expect(load([{ path: "deep.yaml", text }]).diagnostics).toMatchObject([{ code: "NATGW014", line: 3 }]);
  });

  it("brackets after a closed flow collection on its line still count", () => {
    for (const tail of [`[] ${"[".repeat(100_000)}`, `[1,\n  2] ${"[".repeat(100_000)}`]) {
      expect(load([{ path: "deep.yaml", text: `${HEADER}spec: ${tail}\n` }]).diagnostics).toMatchObject([{ code: "NATGW014" }]);
    }
  });

  it("a lone CR breaks no line, as in the yaml library, and the levels on that line still count", () => {
    const text = `${HEADER}spec:\r${Array.from({ length: 100 }, (_, i) => `${"  ".repeat(i + 1)}a:`).join("\r")} 1\r`;
    expect(load([{ path: "deep.yaml", text }]).diagnostics).toMatchObject([{ code: "NATGW014", line: 3 }]);
  });

  it("a block scalar header followed by brackets on its line is a syntax error, not a deep document", () => {
    const text = `${HEADER}spec: |\r${"[".repeat(100_000)}\n`;
    expect(scanNesting(text).depth).toBe(1);
    expect(load([{ path: "deep.yaml", text }]).diagnostics).toMatchObject([{ code: "NATGW004", line: 3, column: 8 }]);
  });

  it("brackets and dashes inside block scalars, quoted scalars and comments are text", () => {
    const deep = "[".repeat(200);
    const text = `${HEADER}spec:
  description: |
    ${deep}
    ${"- ".repeat(200)}
  folded: >-
    ${deep}
  double: "${deep} \\" ${deep}"
  single: '${deep} '' ${deep}'
  plain: a ${deep}  # ${deep}
# ${deep}
  list: [${JSON.stringify(deep)}, '${deep}']
`;
    expect(scanNesting(text).depth).toBe(3);
    expect(depthOf((parseAllDocuments(text) as { toJS(): unknown }[])[0]!.toJS())).toBe(3);
  });

  // Every spec the project has: the scan counts what the parser builds.
  const specFiles = ["examples", "test/fixtures"].flatMap((dir) =>
    readdirSync(dir)
      .filter((name) => !name.endsWith(".expected"))
      .flatMap((name) => (statSync(join(dir, name)).isDirectory() ? readdirSync(join(dir, name)).map((file) => join(dir, name, file)) : [join(dir, name)])),
  );
  for (const path of specFiles) {
    it(`${path}: the scan counts the depth the yaml library reads`, () => {
      const text = readFileSync(path, "utf8");
      const documents = parseAllDocuments(text) as { errors: unknown[]; toJS(): unknown }[];
      // The alias bomb is refused before it expands, whatever its depth.
      if (path.includes("alias-bomb")) return;
      const expected = Math.max(0, ...documents.map((document) => depthOf(document.toJS())));
      const scanned = scanNesting(text).depth;
      // A broken document may be read either way; the scan then counts a level too many, never one too few.
      if (documents.some((document) => document.errors.length > 0)) expect(scanned).toBeGreaterThanOrEqual(expected);
      else expect(scanned).toBe(expected);
    });
  }
});
