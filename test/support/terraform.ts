import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { buildExample, EXAMPLES } from "./artifacts.js";

/**
 * The shared reference material lives beside the repository (../shared): the
 * hcloud provider schema and the offline `terraform validate` tool. A checkout
 * without it skips the tests that need it and says so; CI must have it.
 */
export const SHARED_DIR = resolve("../shared");
export const PROVIDER_SCHEMA_FILE = resolve(SHARED_DIR, "reference/hcloud-provider-schema.json");
export const VALIDATE_SCRIPT = resolve(SHARED_DIR, "tools/tf-schema-provider/validate.sh");

export function missingShared(path: string): string | undefined {
  if (existsSync(path)) return undefined;
  if (process.env.CI === "true") throw new Error(`CI lacks ${path}: the tests need ../shared beside the repository`);
  return `needs ${path} (../shared is absent here)`;
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Every example's Terraform JSON, by gateway. */
export function exampleStacks(): { example: string; gateway: string; text: string; json: Record<string, any> }[] {
  return EXAMPLES.flatMap((example) =>
    buildExample(example)
      .filter((artifact) => artifact.path.startsWith("stacks/"))
      .map((artifact) => ({ example, gateway: artifact.gateway!, text: artifact.content, json: JSON.parse(artifact.content) })),
  );
}

export function providerSchema(): Record<string, any> {
  const schema = JSON.parse(readFileSync(PROVIDER_SCHEMA_FILE, "utf8"));
  return schema.provider_schemas["registry.terraform.io/hetznercloud/hcloud"];
}
