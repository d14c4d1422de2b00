// Generates src/spec/types.generated.ts from the schema, so that the spec's
// TypeScript types are never written by hand. `--check` fails when the file is stale.
import { readFileSync, writeFileSync } from "node:fs";
import { compile, type JSONSchema } from "json-schema-to-typescript";

const schemaPath = new URL("../schema/natgw.schema.json", import.meta.url);
const outputPath = new URL("../src/spec/types.generated.ts", import.meta.url);

/**
 * json-schema-to-typescript names a type after its `title`. Our titles are written
 * for people in editors ("Block SMTP port 25"), so only the $defs keep a title,
 * replaced by their key; every other title is dropped and stays an inline type.
 */
function forTypeNames(node: unknown, defName?: string): unknown {
  if (Array.isArray(node)) return node.map((item) => forTypeNames(item));
  if (node === null || typeof node !== "object") return node;
  // A $ref's siblings describe or narrow the value (a description, a smaller maxLength than
  // $defs/DnsLabel's) without changing its type; kept, they would make a numbered alias
  // (DnsLabel1) of the $def. The $def's own doc is enough.
  if ("$ref" in node) return { $ref: (node as { $ref: unknown }).$ref };
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "title" || key === "examples") continue;
    if (key === "$defs") {
      result.$defs = Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([name, def]) => [name, forTypeNames(def, name)]),
      );
    } else {
      result[key] = forTypeNames(value);
    }
  }
  if (defName) result.title = defName;
  return result;
}

export async function generateSpecTypes(): Promise<string> {
  const schema = JSON.parse(readFileSync(schemaPath, "utf8"));
  const prepared = forTypeNames(schema) as JSONSchema;
  prepared.title = "SpecDocument";
  const source = await compile(prepared, "SpecDocument", {
    bannerComment:
      "// Generated from schema/natgw.schema.json by `npm run generate`. Do not edit: change the schema.\n// Over 300 lines as the schema is: one type per definition, each with the schema's own description.",
    additionalProperties: false,
    unreachableDefinitions: true,
    format: true,
    style: { singleQuote: false, printWidth: 100 },
  });
  // The generator notes where each $def was referenced from; that is noise here.
  return source.replace(/\n \*\n \* This interface was referenced by [^\n]*\n \* via the `definition` "[^"]+"\./g, "");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const generated = await generateSpecTypes();
  if (process.argv.includes("--check")) {
    const current = readFileSync(outputPath, "utf8");
    if (current !== generated) {
      console.error("src/spec/types.generated.ts is stale: run `npm run generate`.");
      process.exit(1);
    }
  } else {
    writeFileSync(outputPath, generated);
  }
}
