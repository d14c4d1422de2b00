import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import nunjucks from "nunjucks";
import { packagePath } from "../../package-root.js";
import { mermaidLabel } from "../../util/mermaid.js";

/** templates/ ships at the package root, with a trailing separator to append names to. */
export const TEMPLATES_DIR = packagePath("templates", "/");

/** programs/ too: static host programs, one file each at its path on the host. */
export const PROGRAMS_DIR = packagePath("programs", "/");

/**
 * Templates hold the text of host files; TypeScript computes every value. An
 * undefined value is a bug, not an empty string, so rendering throws on it.
 * Nothing is HTML-escaped: each target language has its own filter below.
 * trimBlocks and lstripBlocks shape how a template compiles, so the build's
 * precompiled templates take these same options.
 */
export const TEMPLATE_OPTIONS = {
  autoescape: false,
  throwOnUndefined: true,
  trimBlocks: true,
  lstripBlocks: true,
} as const;

/**
 * The templates as `npm run build` compiled them (scripts/build.ts), so a build
 * does not parse them again in every run. Only code built with them reads them:
 * run from src/ (tests, scripts), natgw reads templates/ as it is now, never a
 * compiled copy an edit has since left behind.
 */
export const PRECOMPILED_TEMPLATES = packagePath("dist", "templates.cjs");

function loader(): nunjucks.ILoader {
  const built = fileURLToPath(import.meta.url).startsWith(packagePath("dist", "/"));
  if (!built || !existsSync(PRECOMPILED_TEMPLATES)) return new nunjucks.FileSystemLoader(TEMPLATES_DIR, { noCache: false });
  const compiled = createRequire(import.meta.url)(PRECOMPILED_TEMPLATES) as Record<string, unknown>;
  return new nunjucks.PrecompiledLoader(compiled as never);
}

const environment = new nunjucks.Environment(loader(), TEMPLATE_OPTIONS);

/** A JSON literal: strings quoted and escaped, for JSON files and jq programs. */
environment.addFilter("json", (value: unknown) => JSON.stringify(value));

/** A single-quoted shell word: the only character to escape inside is the quote itself. */
environment.addFilter("shell", (value: unknown) => `'${String(value).replace(/'/g, `'\\''`)}'`);

/**
 * A double-quoted string for nft or keepalived. Both have no escape for a quote
 * or a newline, so a value holding either is refused rather than escaped.
 */
environment.addFilter("quoted", (value: unknown) => {
  const text = String(value);
  if (/["\\\n\r]/.test(text)) throw new Error(`natgw bug: ${JSON.stringify(text)} cannot be quoted safely`);
  return `"${text}"`;
});

/** A quoted Mermaid label of one line per argument (an array gives one line per item). */
environment.addFilter("mermaid", (first: unknown, ...rest: unknown[]) => mermaidLabel(...[first, ...rest].flat().map(String)));

/** Renders `templates/<name>` with `values`. */
export function render(name: string, values: Record<string, unknown>): string {
  return environment.render(name, values);
}

const programs = new Map<string, string>();

/** The program shipped at `hostPath`, read once per process: every member gets the same bytes. */
export function programText(hostPath: string): string {
  let text = programs.get(hostPath);
  if (text === undefined) {
    text = readFileSync(`${PROGRAMS_DIR}${hostPath.slice(1)}`, "utf8");
    programs.set(hostPath, text);
  }
  return text;
}
