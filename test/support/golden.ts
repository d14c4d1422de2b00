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
 * host file stays as it is, and the golden shows the difference in full.
 */
export function goldenText(artifact: Artifact, artifacts: readonly Artifact[]): string {
  const program = programOf(artifact);
  if (program !== null) return `${program}\n`;
  if (artifact.path.endsWith("cloud-init.yaml")) return embeddedInYaml(artifact.content, hostFiles(artifacts));
  if (artifact.path.endsWith(".tf.json")) return embeddedInJson(artifact.content, hostFiles(artifacts));
  return artifact.content;
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
function embeddedInJson(text: string, files: Map<string, string>): string {
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
  return `${JSON.stringify(replace(JSON.parse(text)), null, 2)}`;
}
