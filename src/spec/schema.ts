import { readFileSync } from "node:fs";
import { packagePath } from "../package-root.js";

/** Property-level view of a JSON Schema node, as much as natgw reads of it. */
export interface SchemaNode {
  readonly $ref?: string;
  readonly title?: string;
  readonly description?: string;
  readonly type?: string;
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly default?: unknown;
  readonly examples?: readonly unknown[];
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly items?: SchemaNode;
  readonly required?: readonly string[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
  readonly [keyword: string]: unknown;
}

export interface SpecSchema extends SchemaNode {
  readonly $id: string;
  readonly $defs: Readonly<Record<string, SchemaNode>>;
}

/** The schema file natgw ships, absolute: `natgw schema --path` prints it for editors. */
export const schemaPath = packagePath("schema", "natgw.schema.json");
export const schemaText = readFileSync(schemaPath, "utf8");
export const schema = JSON.parse(schemaText) as SpecSchema;

/** Follows a local `#/$defs/X` reference; the node itself otherwise. */
export function dereference(node: SchemaNode): SchemaNode {
  let current = node;
  while (current.$ref) {
    const name = current.$ref.replace(/^#\/\$defs\//, "");
    const target = schema.$defs[name];
    if (!target) throw new Error(`schema reference ${current.$ref} does not resolve`);
    // Sibling keywords (title, description, examples) refine the target.
    const { $ref: _ref, ...siblings } = current;
    current = { ...target, ...siblings };
  }
  return current;
}

/**
 * The schema node of a path below a $def, e.g. ("Security", "blockSMTP25"), with every
 * $ref followed. A path may also step into a list's items by index, as a document's
 * JSON pointer does ("EgressNATPolicy", "spec", "sources", "0", "cidr").
 */
export function schemaAt(defName: string, ...path: string[]): SchemaNode {
  let node = schema.$defs[defName];
  if (!node) throw new Error(`schema has no $defs/${defName}`);
  node = dereference(node);
  for (const key of path) {
    const next = node.properties?.[key] ?? (/^\d+$/.test(key) ? node.items : undefined);
    if (!next) throw new Error(`schema has no property ${key} under $defs/${defName}`);
    node = dereference(next);
  }
  return node;
}

/**
 * The schema's `default` for a property: defaults are declared once, in the
 * schema that editors show, and read from there.
 */
export function schemaDefault<T>(defName: string, ...path: string[]): T {
  const node = schemaAt(defName, ...path);
  if (!("default" in node)) throw new Error(`schema gives no default for ${defName}.${path.join(".")}`);
  return structuredClone(node.default) as T;
}
