import { readFileSync } from "node:fs";
import fc from "fast-check";
import { parseAllDocuments, stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { compileSources, type CompileResult } from "../src/compile.js";

const exampleTexts = ["single", "ha", "policies", "ports"].map((name) => readFileSync(`examples/${name}.yaml`, "utf8"));
const exampleDocuments = exampleTexts.flatMap((text) => parseAllDocuments(text).map((document) => document.toJS() as unknown));

/** Whatever the input, the compiler answers: a model without errors, or errors without a model. */
function expectAnAnswer(result: CompileResult): void {
  const errors = result.diagnostics.filter((d) => d.severity === "error");
  if (result.model) expect(errors).toEqual([]);
  else expect(errors.length).toBeGreaterThan(0);
  for (const d of result.diagnostics) {
    expect(d.line).toBeGreaterThanOrEqual(1);
    expect(d.column).toBeGreaterThanOrEqual(1);
    expect(d.message).not.toMatch(/[\n\r]/);
    expect(d.code).toMatch(/^NATGW\d{3}$/);
  }
}

const compileOne = (text: string) => compileSources([{ path: "fuzz.yaml", text }]);

/** Any JSON value, biased towards what specs contain: CIDRs, names, numbers. */
const specValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.ipV4().map((ip) => `${ip}/${ip.length % 33}`),
  fc.ipV4(),
  fc.ipV6().map((ip) => `${ip}/64`),
  fc.constantFrom("primary", "prod-egress", "0.0.0.0/0", "fsn1", "NatGateway", "EgressNATPolicy", "", "a\n}", "x\";y"),
  fc.integer({ min: -2, max: 70000 }),
);

type Path = (string | number)[];

function paths(value: unknown, prefix: Path = []): Path[] {
  if (Array.isArray(value)) return [prefix, ...value.flatMap((item, i) => paths(item, [...prefix, i]))];
  if (value && typeof value === "object") return [prefix, ...Object.entries(value).flatMap(([k, v]) => paths(v, [...prefix, k]))];
  return [prefix];
}

type Mutation = { kind: "set"; value: unknown } | { kind: "delete" } | { kind: "add"; key: string; value: unknown };

function mutate(document: unknown, path: Path, mutation: Mutation): unknown {
  const copy = structuredClone(document);
  if (path.length === 0) return mutation.kind === "set" ? mutation.value : copy;
  let parent = copy as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (mutation.kind === "set") parent[last] = mutation.value;
  else if (mutation.kind === "delete") {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else {
    const target = parent[last];
    if (target && typeof target === "object" && !Array.isArray(target)) (target as Record<string, unknown>)[mutation.key] = mutation.value;
  }
  return copy;
}

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  specValue.map((value) => ({ kind: "set" as const, value })),
  fc.constant({ kind: "delete" as const }),
  fc.tuple(fc.constantFrom("egressIps", "route", "spec", "name", "portsPerSource", "zone", "x"), specValue).map(([key, value]) => ({
    kind: "add" as const,
    key,
    value,
  })),
);

describe("the compiler never throws", () => {
  it("on arbitrary text", () => {
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 400 }), (text) => expectAnAnswer(compileOne(text))), { numRuns: 300 });
  });

  it("on the examples with lines dropped, repeated or cut", () => {
    const edit = fc.tuple(fc.nat(exampleTexts.length - 1), fc.nat(200), fc.constantFrom("drop", "repeat", "cut"), fc.nat(40));
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
        let lines = exampleTexts[edits[0]![0]]!.split("\n");
        for (const [, line, kind, at] of edits) {
          const index = line % lines.length;
          if (kind === "drop") lines = lines.filter((_, i) => i !== index);
          else if (kind === "repeat") lines.splice(index, 0, lines[index]!);
          else lines[index] = lines[index]!.slice(0, at);
        }
        expectAnAnswer(compileOne(lines.join("\n")));
      }),
      { numRuns: 300 },
    );
  });

  it("on the examples' documents with values replaced, fields removed and fields added", () => {
    const arbitraryDocument = fc.nat(exampleDocuments.length - 1).chain((index) => {
      const document = exampleDocuments[index];
      const all = paths(document);
      return fc
        .array(fc.tuple(fc.constantFrom(...all), mutation), { minLength: 1, maxLength: 3 })
        .map((mutations) => mutations.reduce((doc, [path, m]) => {
          try {
            return mutate(doc, path, m);
          } catch {
            return doc; // the path vanished under an earlier mutation
          }
        }, document as unknown));
    });
    fc.assert(
      fc.property(fc.array(arbitraryDocument, { minLength: 1, maxLength: 3 }), (documents) => {
        const text = documents.map((document) => stringify(document)).join("---\n");
        expectAnAnswer(compileOne(text));
      }),
      { numRuns: 500 },
    );
  });
});
