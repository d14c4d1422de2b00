import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { buildExample, EXAMPLES } from "./artifacts.js";

/**
 * The shared reference material lives beside the repository (../shared): the
 * hcloud provider schema and the offline `terraform validate` tool. A checkout
 * without it skips the tests that need it and says so; CI must have it.
 */
export const SHARED_DIR = resolve("../shared");
export const PROVIDER_SCHEMA_FILE = resolve(SHARED_DIR, "reference/hcloud-provider-schema.json");
export const TLS_SCHEMA_FILE = resolve(SHARED_DIR, "reference/tls-provider-schema.json");
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

/** The hashicorp/tls provider's schema (v4.1), for the SSH host keys. */
export function tlsProviderSchema(): Record<string, any> {
  const schema = JSON.parse(readFileSync(TLS_SCHEMA_FILE, "utf8"));
  return schema.provider_schemas["registry.terraform.io/hashicorp/tls"];
}

/**
 * Real Terraform evaluating expressions of a stack: a configuration of
 * variables, locals and outputs only needs no provider, so `terraform apply`
 * runs offline and `terraform output -json` shows what each value becomes.
 * Returns the outputs, or the failed command's stderr.
 */
export function evaluateOutputs(
  dir: string,
  config: Record<string, unknown>,
  variables: Record<string, string> = {},
): { values: Record<string, unknown> } | { error: string } {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "main.tf.json"), JSON.stringify(config, null, 2));
  const env = { ...process.env, CHECKPOINT_DISABLE: "1", TF_IN_AUTOMATION: "1" };
  const vars = Object.entries(variables).map(([name, value]) => `-var=${name}=${value}`);
  for (const args of [["init", "-input=false"], ["apply", "-auto-approve", "-input=false", "-no-color", ...vars]]) {
    const run = spawnSync("terraform", [`-chdir=${dir}`, ...args], { encoding: "utf8", env });
    if (run.status !== 0) return { error: run.stderr };
  }
  const shown = spawnSync("terraform", [`-chdir=${dir}`, "output", "-json"], { encoding: "utf8", env });
  const outputs = JSON.parse(shown.stdout) as Record<string, { value: unknown }>;
  return { values: Object.fromEntries(Object.entries(outputs).map(([name, { value }]) => [name, value])) };
}
