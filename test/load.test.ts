import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { locate } from "../src/load/document.js";
import { load, MAX_ALIAS_EXPANSIONS, MAX_FILE_BYTES } from "../src/load/load.js";
import { readSources } from "../src/load/read.js";
import { gateway, policy } from "./support/spec.js";

const one = (path: string, text: string) => load([{ path, text }]);

/** Every spec the project has: the examples and the fixtures' YAML files (examples/ci/ holds a pipeline, not a spec). */
const SPEC_FILES = [
  ...readdirSync("examples").filter((name) => /\.(ya?ml|json)$/.test(name)).map((name) => join("examples", name)),
  ...readdirSync("test/fixtures").filter((name) => name.endsWith(".yaml")).map((name) => join("test/fixtures", name)),
];

/** Every JSON pointer to a node of `value`. */
function pointers(value: unknown, pointer = ""): string[] {
  if (value === null || typeof value !== "object") return [pointer];
  const entries = Array.isArray(value) ? value.map((item, index) => [String(index), item] as const) : Object.entries(value);
  return [pointer, ...entries.flatMap(([key, item]) => pointers(item, `${pointer}/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`))];
}

describe("reading plain YAML the quick way", () => {
  for (const path of SPEC_FILES) {
    it(`${path}: the data is what the yaml library reads`, () => {
      const text = readFileSync(path, "utf8");
      const yamlDocuments = parseAllDocuments(text);
      for (const document of one(path, text).documents) {
        expect(document.data).toEqual((Array.isArray(yamlDocuments) ? yamlDocuments : [])[document.index]!.toJS());
      }
    });
  }

  // A directive sends a file the yaml library's way from the start; it moves every line down by two.
  for (const path of SPEC_FILES.filter((name) => name.startsWith("examples/"))) {
    it(`${path}: positions, worked out when asked, are those the yaml library gives`, () => {
      const text = readFileSync(path, "utf8");
      const quick = one(path, text).documents;
      const slow = one(path, `%YAML 1.2\n---\n${text.replace(/^(#.*\n)*/, "")}`).documents;
      const commentLines = /^(#.*\n)*/.exec(text)![0].split("\n").length - 1;
      expect(quick.map((document) => document.kind)).toEqual(slow.map((document) => document.kind));
      quick.forEach((document, index) => {
        for (const pointer of pointers(document.data)) {
          for (const prefer of ["value", "key"] as const) {
            const expected = locate(slow[index]!, pointer, prefer);
            expect(locate(document, pointer, prefer), `${pointer} (${prefer})`).toEqual({ ...expected, line: expected.line - 2 + commentLines });
          }
        }
      });
    });
  }
});

describe("load", () => {
  it("reads every document of a multi-document file with its kind and index", () => {
    const text = `${gateway()}---\n${policy("p", "  sources: [{ cidr: 10.0.0.0/24 }]\n")}`;
    const result = one("spec.yaml", text);
    expect(result.diagnostics).toEqual([]);
    expect(result.documents.map((d) => [d.kind, d.index])).toEqual([
      ["NatGateway", 0],
      ["EgressNATPolicy", 1],
    ]);
  });

  it("keeps the line and column of every value and key", () => {
    const [document] = one("spec.yaml", gateway()).documents;
    expect(locate(document!, "/spec/network/subnet")).toMatchObject({ line: 10, column: 13 });
    expect(locate(document!, "/spec/network/subnet", "key")).toMatchObject({ line: 10, column: 5 });
    expect(locate(document!, "/spec/security/sshAllowedCIDRs/0")).toMatchObject({ line: 12, column: 23 });
  });

  it("locates a missing node at its nearest ancestor's key, keeping the pointer", () => {
    const [document] = one("spec.yaml", gateway()).documents;
    expect(locate(document!, "/spec/routes/0")).toEqual({ file: "spec.yaml", line: 5, column: 1, pointer: "/spec/routes/0" });
  });

  it("reads several files, each document keeping its own file", () => {
    const result = load([
      { path: "a.yaml", text: gateway({ name: "a" }) },
      { path: "b.json", text: JSON.stringify({ apiVersion: "natgw.dev/v1alpha1", kind: "EgressNATPolicy", metadata: { name: "p" }, spec: {} }) },
    ]);
    expect(result.documents.map((d) => d.file)).toEqual(["a.yaml", "b.json"]);
  });

  it("gives JSON documents positions too", () => {
    const text = '{\n  "apiVersion": "natgw.dev/v1alpha1",\n  "kind": "NatGateway",\n  "metadata": { "name": "x" }\n}\n';
    const [document] = one("spec.json", text).documents;
    expect(locate(document!, "/metadata/name")).toMatchObject({ line: 4, column: 25 });
  });

  it("reports JSON syntax at the offending character", () => {
    const result = one("spec.json", '{\n  "kind": "NatGateway",\n}\n');
    expect(result.diagnostics).toMatchObject([{ code: "NATGW005", line: 3, column: 1 }]);
  });

  it("refuses duplicate keys, naming the key", () => {
    const result = one("spec.yaml", "apiVersion: natgw.dev/v1alpha1\nkind: NatGateway\nkind: EgressNATPolicy\n");
    expect(result.diagnostics).toMatchObject([{ code: "NATGW006", line: 3, column: 1 }]);
    expect(result.diagnostics[0]!.message).toContain('"kind"');
    expect(result.documents).toEqual([]);
  });

  it("refuses an alias bomb before expanding it", () => {
    const levels = ["a: &a [x, x, x, x, x, x, x, x, x]"];
    for (let level = 1; level < 9; level++) {
      const previous = String.fromCharCode(96 + level);
      const name = String.fromCharCode(97 + level);
      levels.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(", ")}]`);
    }
    const result = one("bomb.yaml", `${levels.join("\n")}\n`);
    expect(result.diagnostics).toMatchObject([{ code: "NATGW007", line: 1, column: 1 }]);
    expect(result.diagnostics[0]!.message).toContain(String(MAX_ALIAS_EXPANSIONS));
  });

  it("accepts a few aliases, as a shared label set uses them", () => {
    const text = gateway().replace("metadata:\n  name: prod-egress", "metadata:\n  name: prod-egress\n  labels: &labels { team: platform }");
    expect(one("spec.yaml", `${text}`).diagnostics).toEqual([]);
  });

  it.each([
    ["an empty file", ""],
    ["a file of comments", "# nothing here\n"],
    ["a file of separators", "---\n---\n"],
  ])("says %s holds no document", (_, text) => {
    expect(one("spec.yaml", text).diagnostics).toMatchObject([{ code: "NATGW003", line: 1, column: 1 }]);
  });

  it("refuses a text over the size limit without parsing it", () => {
    const result = one("big.yaml", "#".repeat(MAX_FILE_BYTES + 1));
    expect(result.diagnostics).toMatchObject([{ code: "NATGW002" }]);
    expect(result.diagnostics[0]!.message).toContain("16,777,217 bytes");
  });

  it("names an unknown kind and suggests the known one", () => {
    const result = one("spec.yaml", "apiVersion: natgw.dev/v1alpha1\nkind: NATGateway\n");
    expect(result.diagnostics).toMatchObject([{ code: "NATGW012", line: 2, column: 7, hint: "did you mean `NatGateway`?" }]);
  });

  it("names an unknown apiVersion and the one natgw reads", () => {
    const result = one("spec.yaml", "apiVersion: natgw.dev/v1\nkind: NatGateway\n");
    expect(result.diagnostics).toMatchObject([{ code: "NATGW010", line: 1, column: 13 }]);
  });

  it("says what a document that is not a mapping is", () => {
    expect(one("spec.yaml", "- a\n- b\n").diagnostics[0]!.message).toContain("found a list");
  });
});

describe("readSources", () => {
  it("reports a missing file as unreadable, by its path", () => {
    const result = readSources(["does/not/exist.yaml"]);
    expect(result.diagnostics).toMatchObject([{ code: "NATGW001", file: "does/not/exist.yaml", message: "cannot read the file: no such file" }]);
  });

  it("reports a directory instead of reading it", () => {
    expect(readSources(["examples"]).diagnostics).toMatchObject([{ code: "NATGW001" }]);
  });
});
