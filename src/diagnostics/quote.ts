/**
 * Renders a value from the user's spec inside a message. JSON quoting turns a
 * newline or a quote in a hostile name into `\n` and `\"`, so a message is always
 * one line and nothing the user wrote can pass for natgw's own words.
 */
export function quote(value: unknown, maxLength = 60): string {
  let text: string;
  if (typeof value === "string") text = JSON.stringify(value);
  else if (value === undefined) text = "nothing";
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > maxLength ? `${text.slice(0, maxLength - 1)}…` : text;
}

/** What YAML calls the kind of a value, for "found a list" style messages. */
export function describeType(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return `the string ${quote(value)}`;
  if (typeof value === "number") return Number.isInteger(value) ? `the integer ${value}` : `the number ${value}`;
  if (typeof value === "boolean") return `the boolean ${value}`;
  return typeof value;
}

/** 65408 -> "65,408": counts in messages are read by people. */
export function count(n: number): string {
  return n.toLocaleString("en-US");
}

/** "a", "a or b", "a, b or c". */
export function oneOf(items: readonly string[], conjunction = "or"): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} ${conjunction} ${items[items.length - 1]}`;
}
