import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { generateSpecTypes } from "../scripts/spec-types.js";
import { schema, type SchemaNode } from "../src/spec/schema.js";

/** Every property schema in the schema, with its path, following no references. */
function properties(): { path: string; node: SchemaNode }[] {
  const found: { path: string; node: SchemaNode }[] = [];
  const walk = (node: SchemaNode, path: string) => {
    for (const [name, child] of Object.entries(node.properties ?? {})) {
      found.push({ path: `${path}.${name}`, node: child });
      walk(child, `${path}.${name}`);
    }
    if (node.items) walk(node.items, `${path}[]`);
  };
  for (const [name, def] of Object.entries(schema.$defs)) walk(def, name);
  return found;
}

function objects(): { path: string; node: SchemaNode }[] {
  const found: { path: string; node: SchemaNode }[] = [];
  const walk = (node: unknown, path: string) => {
    if (Array.isArray(node)) node.forEach((item, i) => walk(item, `${path}/${i}`));
    else if (node && typeof node === "object") {
      if ((node as SchemaNode).type === "object") found.push({ path, node: node as SchemaNode });
      for (const [key, value] of Object.entries(node)) if (key !== "examples" && key !== "default") walk(value, `${path}/${key}`);
    }
  };
  walk(schema.$defs, "#/$defs");
  return found;
}

describe("the schema", () => {
  it("is JSON Schema 2020-12 with an $id", () => {
    expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(schema.$id).toMatch(/^https:\/\//);
  });

  it("gives every field a title, a description and examples", () => {
    const missing = properties()
      .filter(({ node }) => !node.$ref || node.title !== undefined)
      .filter(({ node }) => !node.title || !node.description || !Array.isArray(node.examples) || node.examples.length === 0)
      .map(({ path }) => path);
    expect(missing).toEqual([]);
  });

  it("refers only to $defs that carry a title, a description and examples themselves", () => {
    const bare = properties()
      .filter(({ node }) => node.$ref && node.title === undefined)
      .map(({ node }) => node.$ref!.replace("#/$defs/", ""))
      .filter((name) => {
        const target = schema.$defs[name]!;
        return !target.title || !target.description || !(target.examples?.length || target.properties);
      });
    expect(bare).toEqual([]);
  });

  it("closes every object: additionalProperties is false, or a schema for map values", () => {
    const open = objects()
      .filter(({ node }) => node.additionalProperties !== false && typeof node.additionalProperties !== "object")
      .map(({ path }) => path);
    expect(open).toEqual([]);
  });

  it("has defaults and examples that satisfy their own field", () => {
    const ajv = new Ajv2020({ strict: false });
    ajv.addSchema({ ...schema, $id: "https://natgw.dev/test.json" });
    for (const [name, def] of Object.entries(schema.$defs)) {
      const fields = Object.entries(def.properties ?? {});
      for (const [field, node] of fields) {
        const check = ajv.compile({ $ref: `https://natgw.dev/test.json#/$defs/${name}/properties/${field}` });
        for (const value of [...(node.examples ?? []), ...("default" in node ? [node.default] : [])]) {
          expect(check(value), `${name}.${field}: ${JSON.stringify(value)}`).toBe(true);
        }
      }
    }
  });

  it("is what src/spec/types.generated.ts was generated from", async () => {
    expect(readFileSync("src/spec/types.generated.ts", "utf8")).toBe(await generateSpecTypes());
  });
});
