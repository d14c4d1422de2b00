// Generates the "Spec reference" section of README.md from schema/natgw.schema.json,
// so that the table of fields is never written by hand. `--check` fails when the
// README is stale.
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const schemaPath = new URL("../schema/natgw.schema.json", import.meta.url);
const readmePath = new URL("../README.md", import.meta.url);

export const START_MARKER = "<!-- spec-reference:start -->";
export const END_MARKER = "<!-- spec-reference:end -->";

type Schema = Readonly<Record<string, unknown>> & {
  readonly $ref?: string;
  readonly type?: string;
  readonly title?: string;
  readonly description?: string;
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly required?: readonly string[];
  readonly items?: Schema;
  readonly additionalProperties?: Schema | boolean;
  readonly propertyNames?: Schema;
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly default?: unknown;
  readonly pattern?: string;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly uniqueItems?: boolean;
  readonly oneOf?: readonly Schema[];
  readonly anyOf?: readonly Schema[];
};

/** A schema node with its local $ref followed; `named` is the title of a $def that is a plain value (IPv4 CIDR). */
interface Resolved {
  readonly schema: Schema;
  readonly named?: string;
}

interface Row {
  readonly path: string;
  readonly type: string;
  readonly presence: string;
  readonly description: string;
}

/**
 * Patterns the schema writes in place, said in words. A pattern of a $def (DNS label,
 * IPv4 CIDR) is named by the $def's title instead. A pattern missing here is shown as
 * the regular expression itself: correct, but add its words here when you add it.
 */
const PATTERN_WORDS: Readonly<Record<string, string>> = {
  "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$": "lowercase letters, digits and `-`",
  "^[a-z][a-z0-9]*$": "lowercase letters and digits",
  "^[A-Za-z0-9]([-A-Za-z0-9_.@]*[A-Za-z0-9])?$": "letters, digits, `-`, `_`, `.` and `@`",
  "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$":
    "Hetzner label key",
  "^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$": "Hetzner label value",
  "^[-A-Za-z0-9.:]+$": "host name or IP address",
  "^[a-z_][-a-z0-9_]*$": "Unix user name",
  "^(ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa) [A-Za-z0-9+/]+={0,2}( [-A-Za-z0-9_.@:+=/,()]+)*$":
    "SSH public key: type, base64 key, optional comment",
};

function loadSchema(): Schema {
  return JSON.parse(readFileSync(schemaPath, "utf8")) as Schema;
}

/** Follows a local `$ref` (`#/...`); the referring node's own keywords (title, description) win. */
function resolveRef(root: Schema, node: Schema): Resolved {
  if (node.$ref === undefined) return { schema: node };
  if (!node.$ref.startsWith("#/")) throw new Error(`only local $refs are supported, found ${node.$ref}`);
  let target: unknown = root;
  for (const segment of node.$ref.slice(2).split("/")) {
    const key = segment.replace(/~1/g, "/").replace(/~0/g, "~");
    target = (target as Record<string, unknown> | undefined)?.[key];
  }
  if (target === undefined || target === null || typeof target !== "object") throw new Error(`$ref ${node.$ref} points at nothing`);
  const inner = resolveRef(root, target as Schema);
  const { $ref: _ref, ...own } = node;
  const plainValue = inner.schema.type !== "object" && inner.schema.type !== "array";
  const named = inner.named ?? (plainValue ? inner.schema.title : undefined);
  return { schema: { ...inner.schema, ...own }, ...(named ? { named } : {}) };
}

/** The kinds the root schema declares, each with the schema its `if kind = X then` branch applies. */
function kindSchemas(root: Schema): [string, Schema][] {
  const kinds = (root.properties?.kind?.enum ?? []) as string[];
  const branches = (root.allOf ?? []) as { if?: Schema; then?: Schema }[];
  return kinds.map((kind) => {
    const branch = branches.find((candidate) => candidate.if?.properties?.kind?.const === kind);
    const schema = branch?.then ?? ((root.$defs as Record<string, Schema> | undefined)?.[kind]);
    if (!schema) throw new Error(`the schema declares kind ${kind} but no schema for it`);
    return [kind, resolveRef(root, schema).schema];
  });
}

function rows(root: Schema, node: Schema): Row[] {
  const result: Row[] = [];
  const visit = (schema: Schema, prefix: string): void => {
    const required = new Set(schema.required ?? []);
    for (const [name, property] of Object.entries(schema.properties ?? {})) {
      const path = prefix ? `${prefix}.${name}` : name;
      const resolved = resolveRef(root, property);
      const field = resolved.schema;
      result.push({
        path,
        type: typeText(root, resolved),
        presence: required.has(name) ? "required" : field.default !== undefined ? `default ${code(flowYaml(field.default))}` : "optional",
        description: field.description ?? field.title ?? "",
      });
      if (field.properties) visit(field, path);
      if (field.type === "array" && field.items) {
        const items = resolveRef(root, field.items).schema;
        if (items.properties) visit(items, `${path}[]`);
      }
    }
  };
  visit(node, "");
  return result;
}

/** The type column: what a value may be, in words, with its limits. */
function typeText(root: Schema, { schema, named }: Resolved): string {
  if (schema.const !== undefined) return code(flowYaml(schema.const));
  const alternatives = schema.oneOf ?? schema.anyOf;
  if (alternatives) return alternatives.map((alternative) => typeText(root, resolveRef(root, alternative))).join(" or ");
  if (schema.enum) return enumText(schema.enum);
  switch (schema.type) {
    case "string":
      return stringText(schema, named);
    case "integer":
    case "number":
      return [schema.type, rangeText(schema.minimum, schema.maximum, "")].filter(Boolean).join(" ");
    case "boolean":
      return "boolean";
    case "array":
      return arrayText(root, schema);
    case "object":
      return objectText(root, schema);
    default:
      return named ?? schema.type ?? "any";
  }
}

function enumText(values: readonly unknown[]): string {
  if (values.length === 1) return code(flowYaml(values[0]));
  if (values.length > 3 && values.every(isPowerOfTwo) && values.every((value, index) => index === 0 || value === 2 * (values[index - 1] as number))) {
    return `power of two, ${number(values[0] as number)} to ${number(values.at(-1) as number)}`;
  }
  return `one of ${values.map((value) => code(flowYaml(value))).join(", ")}`;
}

/** A string's words: the title of the $def it refers to (DNS label, IPv4 CIDR), else its pattern's words; then its length. */
function stringText(schema: Schema, named: string | undefined): string {
  const words =
    named ??
    (schema.pattern === undefined ? "string" : (PATTERN_WORDS[schema.pattern] ?? `string matching ${code(schema.pattern)}`));
  // A pattern that needs at least one character already says minLength 1.
  const minimum = schema.minLength !== undefined && schema.minLength > 1 ? schema.minLength : undefined;
  const length = rangeText(minimum, schema.maxLength, " chars");
  return length ? `${words}, ${length}` : words;
}

function arrayText(root: Schema, schema: Schema): string {
  const items = schema.items ? resolveRef(root, schema.items) : undefined;
  const itemText = !items ? "any" : items.schema.properties ? "objects" : typeText(root, items);
  const last = schema.maxItems ?? schema.minItems;
  const minimum = schema.minItems === 0 ? undefined : schema.minItems;
  const limits = [rangeText(minimum, schema.maxItems, last === 1 ? " item" : " items")];
  if (schema.uniqueItems) limits.push("unique");
  return [`list of ${itemText}`, ...limits.filter(Boolean)].join("; ");
}

function objectText(root: Schema, schema: Schema): string {
  const values = schema.additionalProperties;
  if (schema.properties || values === undefined || values === false) return "object";
  const keyText = schema.propertyNames ? typeText(root, resolveRef(root, { type: "string", ...schema.propertyNames })) : "string";
  const valueText = values === true ? "any" : typeText(root, resolveRef(root, values));
  return `map: ${keyText} → ${valueText}`;
}

function rangeText(minimum: number | undefined, maximum: number | undefined, unit: string): string {
  if (minimum !== undefined && maximum !== undefined) {
    return minimum === maximum ? `${number(minimum)}${unit}` : `${number(minimum)}–${number(maximum)}${unit}`;
  }
  if (minimum !== undefined) return `≥ ${number(minimum)}${unit}`;
  if (maximum !== undefined) return `≤ ${number(maximum)}${unit}`;
  return "";
}

function isPowerOfTwo(value: unknown): boolean {
  return Number.isInteger(value) && (value as number) > 0 && ((value as number) & ((value as number) - 1)) === 0;
}

function number(value: number): string {
  return `${value}`;
}

/** A value as YAML flow text, the way a spec file would write it. */
function flowYaml(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(flowYaml).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value);
    return entries.length === 0 ? "{}" : `{ ${entries.map(([key, item]) => `${key}: ${flowYaml(item)}`).join(", ")} }`;
  }
  if (typeof value === "string") {
    const plain = /^[A-Za-z0-9][-A-Za-z0-9_./]*$/.test(value) && !/^(true|false|null|yes|no|on|off|~|[-+0-9.]+)$/i.test(value);
    return plain ? value : JSON.stringify(value);
  }
  return String(value);
}

function code(text: string): string {
  return "`" + text + "`";
}

/** A table cell: one line, and `|` escaped (GitHub's tables need it escaped even inside code spans). */
function cell(text: string): string {
  return text.replace(/\s+/g, " ").trim().replace(/\|/g, "\\|");
}

export function renderSpecReference(): string {
  const root = loadSchema();
  const sections = kindSchemas(root).map(([kind, schema]) => {
    const table = [
      "| Field | Type | Required / default | Description |",
      "| --- | --- | --- | --- |",
      ...rows(root, schema).map((row) => `| ${[code(row.path), row.type, row.presence, row.description].map(cell).join(" | ")} |`),
    ];
    return [`### ${kind}`, "", cell(schema.description ?? ""), "", ...table].join("\n");
  });
  return [
    "<!-- Generated from schema/natgw.schema.json by `npm run generate`; edit the schema, not this section. -->",
    "",
    ...sections.flatMap((section) => [section, ""]),
  ]
    .join("\n")
    .trimEnd();
}

/** The README with the text between the spec-reference markers replaced by `reference`. */
export function withSpecReference(readme: string, reference: string = renderSpecReference()): string {
  const start = readme.indexOf(START_MARKER);
  const end = readme.indexOf(END_MARKER);
  if (start === -1 || end === -1 || end < start) {
    throw new Error(`README.md must contain ${START_MARKER} followed by ${END_MARKER}`);
  }
  return `${readme.slice(0, start + START_MARKER.length)}\n${reference}\n${readme.slice(end)}`;
}

/** The text currently between the markers, as `renderSpecReference` would return it. */
export function currentSpecReference(readme: string): string {
  const start = readme.indexOf(START_MARKER);
  const end = readme.indexOf(END_MARKER);
  if (start === -1 || end === -1 || end < start) return "";
  return readme.slice(start + START_MARKER.length, end).replace(/^\n/, "").replace(/\n$/, "");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const readme = readFileSync(readmePath, "utf8");
  const updated = withSpecReference(readme);
  if (process.argv.includes("--check")) {
    if (updated !== readme) {
      console.error("README.md's spec reference is stale: run `npm run generate`.");
      process.exit(1);
    }
  } else if (updated !== readme) {
    writeFileSync(readmePath, updated);
  }
}
