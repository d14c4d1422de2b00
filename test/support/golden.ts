import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { isScalar, parseDocument, visit } from "yaml";
import type { Artifact } from "../../src/emit/artifact.js";
import { PROGRAMS_DIR } from "../../src/emit/hosts/render.js";

/**
 * An artifact as its golden file holds it. cloud-init.yaml, the stack and the
 * module each carry every host file again; a golden keeps such a copy as one
 * line naming the host file it equals and that file's sha256, so each file is
 * stored once and a change to it is one hunk. A copy that differs from every
 * host file stays as it is, and the golden shows the difference in full. A
 * module's golden holds only what differs from its gateway's stack.
 */
export function goldenText(artifact: Artifact, artifacts: readonly Artifact[]): string {
  const program = programOf(artifact);
  if (program !== null) return `${program}\n`;
  if (artifact.path.endsWith("cloud-init.yaml")) return embeddedInYaml(artifact.content, hostFiles(artifacts));
  const stack = stackOf(artifact, artifacts);
  if (stack) return moduleDifference(stack, artifact, hostFiles(artifacts));
  if (artifact.path.endsWith(".tf.json")) return `${JSON.stringify(embeddedInJson(artifact.content, hostFiles(artifacts)), null, 2)}`;
  return artifact.content;
}

/** A gateway's module repeats most of its stack: the stack artifact, for a module's. */
function stackOf(artifact: Artifact, artifacts: readonly Artifact[]): Artifact | undefined {
  const gateway = /^modules\/([^/]+)\/main\.tf\.json$/.exec(artifact.path)?.[1];
  return gateway === undefined ? undefined : artifacts.find((candidate) => candidate.path === `stacks/${gateway}/cdk.tf.json`);
}

/**
 * A module's golden holds only what differs from its stack's: each value the
 * module has in place of the stack's (or the stack lacks), and each the stack has
 * that the module leaves out, by JSON pointer. A change to both is one hunk in
 * the stack's golden; one to the module alone shows here.
 */
function moduleDifference(stack: Artifact, module: Artifact, files: Map<string, string>): string {
  const changed: Record<string, unknown> = {};
  const removed: string[] = [];
  const compare = (from: unknown, to: unknown, pointer: string): void => {
    const bothObjects = from !== null && to !== null && typeof from === "object" && typeof to === "object" && Array.isArray(from) === Array.isArray(to);
    if (bothObjects && (!Array.isArray(from) || (from as unknown[]).length === (to as unknown[]).length)) {
      const fromRecord = from as Record<string, unknown>;
      const toRecord = to as Record<string, unknown>;
      for (const key of Object.keys(fromRecord)) {
        const path = `${pointer}/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`;
        if (key in toRecord) compare(fromRecord[key], toRecord[key], path);
        else removed.push(path);
      }
      for (const key of Object.keys(toRecord)) if (!(key in fromRecord)) changed[`${pointer}/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`] = toRecord[key];
      return;
    }
    if (JSON.stringify(from) !== JSON.stringify(to)) changed[pointer] = to;
  };
  compare(embeddedInJson(stack.content, files), embeddedInJson(module.content, files), "");
  return `${JSON.stringify({ "module of": stack.path, "values in place of the stack's": changed, "the stack's values left out": removed }, null, 2)}`;
}

/**
 * A static program (programs/) ships byte for byte to every member: its golden
 * names the program's own file and sha256 instead of holding it once per member.
 */
function programOf(artifact: Artifact): string | null {
  const hostPath = /^hosts\/[^/]+(\/.+)$/.exec(artifact.path)?.[1];
  const source = hostPath === undefined ? null : join(PROGRAMS_DIR, hostPath.slice(1));
  if (source === null || !existsSync(source) || readFileSync(source, "utf8") !== artifact.content) return null;
  return `<program: programs${hostPath}, sha256 ${createHash("sha256").update(artifact.content).digest("hex")}>`;
}

/** Host file contents (cloud-init.yaml included) -> the reference a golden writes in place of a copy. */
function hostFiles(artifacts: readonly Artifact[]): Map<string, string> {
  const byContent = new Map<string, string>();
  for (const artifact of [...artifacts].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    if (!artifact.path.startsWith("hosts/") || byContent.has(artifact.content) || artifact.content.length < 64) continue;
    byContent.set(artifact.content, `<embedded: ${artifact.path}, sha256 ${createHash("sha256").update(artifact.content).digest("hex")}>`);
  }
  return byContent;
}

function embeddedInYaml(text: string, files: Map<string, string>): string {
  const document = parseDocument(text);
  visit(document, {
    Pair(_, pair) {
      // A compressed file: `encoding: gz+b64` beside its `content`.
      if (isScalar(pair.key) && pair.key.value === "content" && isScalar(pair.value) && /^[A-Za-z0-9+/=]+$/.test(String(pair.value.value))) {
        try {
          const reference = files.get(gunzipSync(Buffer.from(String(pair.value.value), "base64")).toString("utf8"));
          if (reference) pair.value.value = reference;
        } catch {
          // Not gzip: a plain value that happens to look like base64.
        }
      }
    },
    Scalar(_, scalar) {
      const reference = typeof scalar.value === "string" ? files.get(scalar.value) : undefined;
      if (reference) scalar.value = reference;
    },
  });
  return document.toString({ lineWidth: 0 });
}

/**
 * Terraform JSON strings are templates whose own `${` and `%{` natgw doubled;
 * a copy is compared with that undone. user_data is the cloud-config followed
 * by the host key's lines.
 */
function embeddedInJson(text: string, files: Map<string, string>): unknown {
  const replace = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(replace);
    if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, replace(item)]));
    if (typeof value !== "string") return value;
    const literal = value.replace(/([$%])\1\{/g, "$1{");
    const whole = files.get(literal);
    if (whole) return whole;
    for (const [content, reference] of files) {
      if (content.startsWith("#cloud-config") && literal.startsWith(content)) return `${reference}${value.slice(value.length - (literal.length - content.length))}`;
    }
    return value;
  };
  return replace(JSON.parse(text));
}
