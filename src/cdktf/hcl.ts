/**
 * Terraform JSON values as HCL native syntax, for `cdktf synth --hcl`.
 *
 * A string in Terraform's JSON syntax is a template: literal text, `${expr}`
 * interpolations, and `$${` / `%%{` escapes. cdktf's HCL printer puts any value
 * holding `${` between double quotes as it is and guesses the rest, which
 * breaks multi-line text, quotes and backslashes. So natgw renders every value
 * itself and hands cdktf text it passes through: a string holding `${` as the
 * inside of a quoted template (cdktf adds the quotes), anything else as a
 * finished expression. Values nested in lists and maps must then hold no `${`
 * at all: there an interpolation-only string becomes its bare expression.
 */

/** A template's parts: literal text, or the expression of a `${...}`. */
type Part = { readonly text: string } | { readonly expression: string };

/** Splits a Terraform JSON string into literal text and interpolations. */
export function templateParts(template: string): Part[] {
  const parts: Part[] = [];
  let text = "";
  let index = 0;
  while (index < template.length) {
    if (template.startsWith("$${", index) || template.startsWith("%%{", index)) {
      text += `${template[index]}{`;
      index += 3;
    } else if (template.startsWith("%{", index)) {
      throw new Error(`natgw bug: a template directive has no HCL rendering here: ${template.slice(index, index + 40)}`);
    } else if (template.startsWith("${", index)) {
      const end = expressionEnd(template, index + 2);
      if (text !== "") parts.push({ text });
      text = "";
      parts.push({ expression: template.slice(index + 2, end).trim() });
      index = end + 1;
    } else {
      text += template[index];
      index += 1;
    }
  }
  if (text !== "" || parts.length === 0) parts.push({ text });
  return parts;
}

/** The index of the `}` that closes an interpolation, skipping braces inside its string literals. */
function expressionEnd(template: string, start: number): number {
  let depth = 0;
  let quoted = false;
  for (let index = start; index < template.length; index += 1) {
    const char = template[index]!;
    if (quoted) {
      if (char === "\\") index += 1;
      else if (char === '"') quoted = false;
      else if (char === "$" && template[index + 1] === "{") throw new Error("natgw bug: a nested template has no HCL rendering here");
    } else if (char === '"') quoted = true;
    else if (char === "{") depth += 1;
    else if (char === "}") {
      if (depth === 0) return index;
      depth -= 1;
    }
  }
  throw new Error(`natgw bug: an unterminated interpolation: ${template.slice(start - 2, start + 40)}`);
}

/** Literal text inside an HCL quoted template. */
function escapeText(text: string): string {
  return text
    .replace(/\\/g, "\\\\")
    .replace(/"/g, '\\"')
    .replace(/\n/g, "\\n")
    .replace(/\r/g, "\\r")
    .replace(/\t/g, "\\t")
    .replace(/[\u0000-\u001f\u007f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`)
    .replace(/([$%])\{/g, (_match, sigil: string) => `${sigil}${sigil}{`);
}

/** A string as the inside of an HCL quoted template (without its quotes). */
export function quotedTemplateBody(template: string): string {
  return templateParts(template)
    .map((part) => ("text" in part ? escapeText(part.text) : `\${${part.expression}}`))
    .join("");
}

/** An identifier HCL takes as an object key unquoted. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * A value nested in a list or map, as an HCL expression holding no `${`: an
 * interpolation-only string is its expression; other strings are quoted and
 * may not interpolate.
 */
export function nestedExpression(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (typeof value === "string") {
    const parts = templateParts(value);
    const only = parts.length === 1 ? parts[0]! : null;
    if (only && "expression" in only) return only.expression;
    if (parts.some((part) => "expression" in part) || value.includes("${")) {
      throw new Error(`natgw bug: a nested string with an interpolation has no HCL rendering here: ${value.slice(0, 60)}`);
    }
    return `"${escapeText(value)}"`;
  }
  if (Array.isArray(value)) return `[${value.map(nestedExpression).join(", ")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).map(
      ([key, item]) => `${IDENTIFIER.test(key) ? key : `"${escapeText(key)}"`} = ${nestedExpression(item)}`,
    );
    return entries.length === 0 ? "{}" : `{\n${entries.join("\n")}\n}`;
  }
  throw new Error(`natgw bug: no HCL rendering for ${typeof value}`);
}

/**
 * An argument's value as cdktf's HCL printer passes it through: a string with an
 * interpolation as the inside of a quoted template (the printer adds the
 * quotes), every other value as a finished expression.
 */
export function argumentValue(value: unknown): { value: string; isBlock: false; type: "reference" | "simple"; storageClassType: string } {
  if (typeof value === "string") {
    const parts = templateParts(value);
    const only = parts.length === 1 ? parts[0]! : null;
    if (only && "expression" in only) return { value: only.expression, isBlock: false, type: "reference", storageClassType: "reference" };
    const body = quotedTemplateBody(value);
    if (body.includes("${")) return { value: body, isBlock: false, type: "simple", storageClassType: "string" };
    return { value: `"${body}"`, isBlock: false, type: "reference", storageClassType: "reference" };
  }
  return { value: nestedExpression(value), isBlock: false, type: "reference", storageClassType: "reference" };
}
