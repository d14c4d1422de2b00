import type { ErrorObject } from "ajv";
import ipaddr from "ipaddr.js";
import { diagnose } from "../diagnostics/catalogue.js";
import type { Diagnostic, SourceLocation } from "../diagnostics/diagnostic.js";
import { describeType, oneOf, quote } from "../diagnostics/quote.js";
import { closest } from "../diagnostics/suggest.js";
import { childPointer, locate, unescapePointerToken, type SourceDocument } from "../load/document.js";
import { HOST_KEY_TYPES, hostKeyMistake, meantHost } from "../resolve/ssh.js";
import { dereference, schemaAt, type SchemaNode } from "../spec/schema.js";

/** One ajv error -> one diagnostic that says which field, what was expected and what was found. */
export function explainSchemaError(document: SourceDocument, error: ErrorObject): Diagnostic {
  const pointer = error.instancePath;
  const at = locate(document, pointer);
  const field = fieldName(pointer);
  const parentSchema = (error.parentSchema ?? {}) as SchemaNode;
  const value = error.data;

  switch (error.keyword) {
    case "required": {
      const missing = (error.params as { missingProperty: string }).missingProperty;
      const withoutKeys = missingSshKeys(pointer, missing);
      if (withoutKeys) return diagnose("noSshKey", { found: withoutKeys }, locate(document, pointer, "key"));
      const child = parentSchema.properties?.[missing];
      const example = child ? exampleOf(dereference(child)) : undefined;
      // At the parent's key: `network:` is what lacks a `subnet`.
      return diagnose("missingField", { field: missing, parent: field, ...(example ? { example } : {}) }, locate(document, pointer, "key"));
    }
    case "additionalProperties": {
      const extra = (error.params as { additionalProperty: string }).additionalProperty;
      const allowed = Object.keys(parentSchema.properties ?? {});
      const suggestion = closest(extra, allowed);
      return diagnose(
        "unknownField",
        { field: quote(extra), parent: field, allowed: allowed.join(", "), ...(suggestion ? { suggestion } : {}) },
        locate(document, childPointer(pointer, extra), "key"),
      );
    }
    case "propertyNames": {
      const name = (error.params as { propertyName: string }).propertyName;
      return diagnose("badLabelKey", { found: quote(name) }, locate(document, childPointer(pointer, name), "key"));
    }
    case "type": {
      const expected = expectedType(parentSchema);
      const example = exampleOf(parentSchema);
      return diagnose(
        "wrongType",
        { field, expected, found: describeType(value), ...(example ? { example: `\`${example}\`` } : {}) },
        at,
      );
    }
    case "enum":
    case "const": {
      const allowed = (error.keyword === "enum" ? parentSchema.enum : [parentSchema.const]) ?? [];
      if (pointer.endsWith("/portsPerSource")) return portsPerSourceError(value, at);
      const suggestion = typeof value === "string" ? closest(value, allowed.map(String)) : undefined;
      return diagnose(
        "notAllowedValue",
        {
          field,
          allowed: oneOf(allowed.map((item) => `\`${String(item)}\``)),
          found: describeType(value),
          ...(suggestion ? { suggestion } : {}),
        },
        at,
      );
    }
    case "pattern":
    case "maxLength":
    case "minLength":
      return stringError(error, document, field, parentSchema);
    case "minimum":
    case "maximum": {
      const { limit } = error.params as { limit: number };
      if (error.keyword === "maximum" && parentSchema.title === "Hetzner ID") {
        // Past 2^53 the loader's number is already rounded; the text as written is what the user typed.
        const written = document.positions.get(pointer)?.written ?? describeType(value);
        return diagnose("idTooLarge", { field, found: written, limit: String(limit) }, at);
      }
      const rule =
        parentSchema.minimum !== undefined && parentSchema.maximum !== undefined
          ? `from ${parentSchema.minimum} to ${parentSchema.maximum}`
          : error.keyword === "minimum"
            ? `at least ${limit}`
            : `at most ${limit}`;
      return diagnose("outOfRange", { field, rule, found: describeType(value) }, at);
    }
    case "minItems":
    case "maxItems": {
      const { limit } = error.params as { limit: number };
      if (pointer === "/spec/members/sshKeys") return diagnose("noSshKey", { found: "an empty list" }, at);
      const rule = error.keyword === "minItems" ? `at least ${plural(limit, "entry", "entries")}` : `at most ${plural(limit, "entry", "entries")}`;
      return diagnose("listLength", { field, rule, found: Array.isArray(value) ? value.length : 0 }, at);
    }
    case "uniqueItems": {
      const { i } = error.params as { i: number; j: number };
      const item = Array.isArray(value) ? value[i] : undefined;
      return diagnose("duplicateItem", { field, found: quote(item) }, locate(document, childPointer(pointer, i)));
    }
    default:
      return diagnose("schemaOther", { field, detail: error.message ?? "is invalid" }, at);
  }
}

/**
 * A gateway without an SSH key can never be configured, whether the list is
 * empty or missing along with `members`; each says so in the same words.
 */
function missingSshKeys(pointer: string, missing: string): string | undefined {
  if (pointer === "/spec" && missing === "members") return "no `members`";
  if (pointer === "/spec/members" && missing === "sshKeys") return "`members` without `sshKeys`";
  return undefined;
}

function stringError(error: ErrorObject, document: SourceDocument, field: string, parentSchema: SchemaNode): Diagnostic {
  const pointer = error.instancePath;
  const at = locate(document, pointer);
  const value = String(error.data);
  if (error.schemaPath.includes("/$defs/Labels/")) {
    const key = unescapePointerToken(pointer.slice(pointer.lastIndexOf("/") + 1));
    return diagnose("badLabelValue", { key: quote(key), found: quote(value) }, at);
  }
  if (parentSchema.title === "IPv4 CIDR") return cidrError(field, value, at);
  if (parentSchema.title === "IPv4 address") return addressError(field, value, at);
  // The schema admits only the characters of the bastion's host and key; their messages state the
  // whole rule, which resolve checks further (resolve/ssh.ts), and guess what the user meant.
  if (pointer === "/spec/members/bastion/host") return diagnose("badBastionHost", { found: quote(value), ...meantHost(value) }, at);
  if (pointer === "/spec/members/bastion/hostKey") {
    const mistake = hostKeyMistake(value);
    return diagnose("badHostKey", { found: quote(value), types: oneOf(HOST_KEY_TYPES), ...(mistake ? { mistake } : {}) }, at);
  }
  // The message states the field's whole rule. Through a `$ref` (DnsLabel), ajv's parentSchema
  // holds only the failing keyword's side: the $def for `pattern`, the property for its own
  // `maxLength`. The property's node with its $ref followed holds both.
  const node = schemaAt(document.kind, ...pointer.slice(1).split("/").map(unescapePointerToken));
  const rule = stringRule(node);
  const suggestion = node.pattern?.startsWith("^[a-z]")
    ? asDnsLabel(value, node.maxLength)
    : node.pattern?.startsWith("^[a-z_]")
      ? asUnixUser(value, node)
      : undefined;
  return diagnose(
    "badName",
    { field, rule, found: quote(value), ...(suggestion && suggestion !== value ? { suggestion } : {}) },
    at,
  );
}

function stringRule(node: SchemaNode): string {
  const length = `${node.minLength ?? 1} to ${node.maxLength} characters`;
  // The narrower pattern first: a server type's also begins as a DNS label's does.
  if (node.pattern?.startsWith("^[a-z][a-z0-9]")) return `${length} of lowercase letters and digits`;
  if (node.pattern?.startsWith("^[a-z]")) {
    return `a DNS label of ${length}: lowercase letters, digits and \`-\`, beginning with a letter and ending with a letter or digit`;
  }
  if (node.pattern?.startsWith("^[a-z0-9]")) {
    return `${length} of lowercase letters, digits and \`-\`, beginning and ending with a letter or digit`;
  }
  if (node.pattern?.startsWith("^[a-z_]")) {
    return `a Unix user name of ${length}: lowercase letters, digits, \`_\` and \`-\`, beginning with a letter or \`_\``;
  }
  return `${length} of letters, digits, \`-\`, \`_\`, \`.\` and \`@\`, beginning and ending with a letter or digit`;
}

/** "Prod_Egress\n}" -> "prod-egress": what the user most likely meant. */
function asDnsLabel(value: string, limit = Infinity): string | undefined {
  let label = value
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^[^a-z]+/, "")
    .replace(/-+$/, "");
  // Too long: drop whole words from the end rather than cut one in half.
  if (label.length > limit) {
    const cut = label.slice(0, limit + 1);
    label = cut.includes("-") ? cut.slice(0, cut.lastIndexOf("-")) : cut.slice(0, limit);
  }
  label = label.replace(/-+$/, "");
  return label.length > 0 ? label : undefined;
}

/** "Admin" -> "admin": user names on Linux are lowercase by convention and by useradd's default rule. */
function asUnixUser(value: string, node: SchemaNode): string | undefined {
  const lowered = value.trim().toLowerCase();
  const fits = new RegExp(node.pattern!, "u").test(lowered) && lowered.length <= (node.maxLength ?? Infinity);
  return fits ? lowered : undefined;
}

function cidrError(field: string, value: string, at: SourceLocation): Diagnostic {
  const [address, prefix] = value.split("/");
  if (address && ipaddr.IPv6.isValid(address) && !ipaddr.IPv4.isValidFourPartDecimal(address)) {
    return diagnose("ipv6NotSupported", { field, found: quote(value) }, at);
  }
  if (address && ipaddr.IPv4.isValidFourPartDecimal(address) && prefix === undefined) {
    return diagnose("badCidr", { field, found: quote(value), suggestion: `${address}/32` }, at);
  }
  return diagnose("badCidr", { field, found: quote(value) }, at);
}

function addressError(field: string, value: string, at: SourceLocation): Diagnostic {
  if (ipaddr.IPv6.isValid(value)) return diagnose("ipv6NotSupported", { field, found: quote(value) }, at);
  const [address] = value.split("/");
  const suggestion = address && ipaddr.IPv4.isValidFourPartDecimal(address) ? address : undefined;
  return diagnose("badAddress", { field, found: quote(value), ...(suggestion ? { suggestion } : {}) }, at);
}

function portsPerSourceError(value: unknown, at: SourceLocation): Diagnostic {
  let suggestion: string | undefined;
  if (typeof value === "number" && value > 0) {
    const nearest = 2 ** Math.round(Math.log2(value));
    suggestion = String(Math.min(32768, Math.max(8, nearest)));
  }
  return diagnose("badPortsPerSource", { found: describeType(value), ...(suggestion ? { suggestion } : {}) }, at);
}

function expectedType(node: SchemaNode): string {
  switch (node.type) {
    case "object":
      return "a mapping";
    case "array":
      return "a list";
    case "integer":
      return "an integer";
    case "number":
      return "a number";
    case "boolean":
      return "true or false";
    case "string":
      return "a string";
    default:
      return String(node.type);
  }
}

/** The schema's first example, written as it would be in YAML flow style. */
function exampleOf(node: SchemaNode): string | undefined {
  const example = node.examples?.[0];
  if (example === undefined) return undefined;
  return toFlowYaml(example);
}

function toFlowYaml(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(toFlowYaml).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    return `{ ${Object.entries(value).map(([k, v]) => `${k}: ${toFlowYaml(v)}`).join(", ")} }`;
  }
  return String(value);
}

/** "/spec/routes/0" -> "spec.routes[0]"; the document itself is "the document". */
export function fieldName(pointer: string): string {
  if (pointer === "") return "the document";
  let name = "";
  for (const raw of pointer.slice(1).split("/")) {
    const token = unescapePointerToken(raw);
    if (/^\d+$/.test(token)) name += `[${token}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(token)) name += name ? `.${token}` : token;
    else name += `[${quote(token)}]`;
  }
  return name;
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
