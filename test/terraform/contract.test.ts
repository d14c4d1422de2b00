import { describe, expect, it } from "vitest";
import { exampleStacks, missingShared, PROVIDER_SCHEMA_FILE, providerSchema, TLS_SCHEMA_FILE, tlsProviderSchema } from "../support/terraform.js";

// The Terraform JSON every example synthesizes, checked against the hcloud
// provider's own schema (v1.68) and, for the SSH host keys, the tls provider's
// (v4.1): every resource and data source type exists,
// every argument and nested block is one the schema declares (and not one the
// provider only computes), every required argument is set, and every literal
// value has the schema's type. `${...}` expressions are left to terraform validate.
const skip = missingShared(PROVIDER_SCHEMA_FILE) ?? missingShared(TLS_SCHEMA_FILE);

/** Terraform's meta-arguments: not part of any provider schema. */
const META = new Set(["//", "count", "for_each", "provider", "depends_on", "lifecycle", "connection", "provisioner"]);
/** terraform_data is built into Terraform: its arguments. */
const TERRAFORM_DATA = new Set(["input", "triggers_replace"]);

type SchemaType = string | [string, SchemaType] | [string, Record<string, SchemaType>];

interface Block {
  attributes?: Record<string, { type: SchemaType; required?: boolean; optional?: boolean; computed?: boolean }>;
  block_types?: Record<string, { nesting_mode: string; block: Block; min_items?: number; max_items?: number }>;
}

const isExpression = (value: unknown) => typeof value === "string" && /^\$\{[\s\S]*\}$/.test(value);

function typeProblems(value: unknown, type: SchemaType, where: string): string[] {
  if (isExpression(value)) return [];
  if (typeof type === "string") {
    const ok =
      (type === "string" && typeof value === "string") ||
      (type === "number" && typeof value === "number") ||
      (type === "bool" && typeof value === "boolean");
    return ok ? [] : [`${where}: ${JSON.stringify(value)} is not a ${type}`];
  }
  const [kind, element] = type;
  if ((kind === "list" || kind === "set") && Array.isArray(value)) {
    return value.flatMap((item, index) => typeProblems(item, element as SchemaType, `${where}[${index}]`));
  }
  if (kind === "map" && value !== null && typeof value === "object" && !Array.isArray(value)) {
    return Object.entries(value).flatMap(([key, item]) => typeProblems(item, element as SchemaType, `${where}.${key}`));
  }
  return [`${where}: ${JSON.stringify(value)} is not a ${JSON.stringify(type)}`];
}

function blockProblems(body: Record<string, unknown>, block: Block, where: string, skipKeys: Set<string>): string[] {
  const problems: string[] = [];
  const attributes = block.attributes ?? {};
  const blocks = block.block_types ?? {};
  for (const [key, value] of Object.entries(body)) {
    if (skipKeys.has(key)) continue;
    const attribute = attributes[key];
    const nested = blocks[key];
    if (attribute) {
      if (!attribute.required && !attribute.optional) problems.push(`${where}.${key}: computed by the provider, cannot be set`);
      problems.push(...typeProblems(value, attribute.type, `${where}.${key}`));
    } else if (nested) {
      const single = nested.nesting_mode === "single" || nested.nesting_mode === "group";
      const items = single ? [value] : value;
      if (!Array.isArray(items)) {
        problems.push(`${where}.${key}: a ${nested.nesting_mode} block must be a list of objects`);
        continue;
      }
      if (nested.max_items !== undefined && nested.max_items > 0 && items.length > nested.max_items) {
        problems.push(`${where}.${key}: at most ${nested.max_items} blocks`);
      }
      items.forEach((item, index) => {
        if (item === null || typeof item !== "object" || Array.isArray(item)) problems.push(`${where}.${key}[${index}]: not an object`);
        else problems.push(...blockProblems(item as Record<string, unknown>, nested.block, `${where}.${key}[${index}]`, new Set()));
      });
    } else {
      problems.push(`${where}.${key}: no such argument or block in the schema`);
    }
  }
  for (const [key, attribute] of Object.entries(attributes)) {
    if (attribute.required && !(key in body)) problems.push(`${where}.${key}: required, missing`);
  }
  for (const [key, nested] of Object.entries(blocks)) {
    if ((nested.min_items ?? 0) > 0 && !(key in body)) problems.push(`${where}.${key}: required block, missing`);
  }
  return problems;
}

/** The provider schemas by provider name: a type's prefix up to the first `_` names its provider. */
type Schemas = Record<string, Record<string, any>>;

function schemaOf(schemas: Schemas, type: string): Record<string, any> | undefined {
  return schemas[type.split("_")[0]!];
}

/** Every problem of one stack against the schemas of its providers. */
function stackProblems(stack: Record<string, any>, schemas: Schemas): string[] {
  const problems: string[] = [];
  for (const [kind, key] of [
    ["resource", "resource_schemas"],
    ["data", "data_source_schemas"],
  ] as const) {
    for (const [type, byName] of Object.entries<Record<string, Record<string, unknown>>>(stack[kind] ?? {})) {
      const types = schemaOf(schemas, type)?.[key] ?? {};
      for (const [name, body] of Object.entries(byName)) {
        const where = `${kind}.${type}.${name}`;
        if (kind === "resource" && type === "terraform_data") {
          problems.push(...Object.keys(body).filter((key) => !META.has(key) && !TERRAFORM_DATA.has(key)).map((key) => `${where}.${key}: not an argument of terraform_data`));
          continue;
        }
        if (!types[type]) {
          problems.push(`${where}: the provider has no ${kind === "data" ? "data source" : "resource"} ${type}`);
          continue;
        }
        problems.push(...blockProblems(body, types[type].block, where, META));
      }
    }
  }
  for (const [name, configs] of Object.entries<Record<string, unknown>[]>(stack.provider ?? {})) {
    const schema = schemas[name];
    if (!schema) problems.push(`provider.${name}: no schema for this provider`);
    else for (const config of configs) problems.push(...blockProblems(config, schema.provider.block, `provider.${name}`, new Set(["alias"])));
  }
  return problems;
}

describe.skipIf(skip)(`every emitted resource and data source fits the hcloud and tls provider schemas${skip ? ` (skipped: ${skip})` : ""}`, () => {
  const stacks = exampleStacks();
  const schema: Schemas = skip ? {} : { hcloud: providerSchema(), tls: tlsProviderSchema() };

  for (const { example, gateway, json } of stacks) {
    it(`${example}: ${gateway}'s arguments, blocks, types and required arguments`, () => {
      expect(stackProblems(json, schema)).toEqual([]);
    });
  }

  it("uses only hcloud types natgw means to use, and no hcloud_firewall", () => {
    const types = new Set(stacks.flatMap(({ json }) => [...Object.keys(json.resource ?? {}), ...Object.keys(json.data ?? {}).map((type) => `data.${type}`)]));
    expect([...types].sort()).toEqual([
      "data.hcloud_floating_ip",
      "data.hcloud_network",
      "hcloud_floating_ip",
      "hcloud_floating_ip_assignment",
      "hcloud_network",
      "hcloud_network_route",
      "hcloud_network_subnet",
      "hcloud_placement_group",
      "hcloud_server",
      "terraform_data",
      "tls_private_key",
    ]);
  });

  it("declares both providers, each with the version range natgw is written for", () => {
    for (const { json } of stacks) {
      expect(json.terraform.required_providers).toEqual({
        hcloud: { source: "hetznercloud/hcloud", version: "~> 1.68" },
        tls: { source: "hashicorp/tls", version: "~> 4.0" },
      });
    }
  });

  it("catches what it is meant to catch: a misspelled argument, a missing one, a wrong type, a computed one, a bad block", () => {
    const stack = structuredClone(stacks.find(({ gateway }) => gateway === "dev-egress")!.json);
    const server = stack.resource.hcloud_server["dev-egress-1"];
    server.server_typ = server.server_type;
    delete server.server_type;
    server.location = 7;
    server.ipv4_address = "203.0.113.1";
    server.public_net = { ipv4_enabled: true };
    stack.resource.hcloud_floating_ip.primary.labels = { team: 1 };
    stack.data = { hcloud_image: { x: { name: "debian-12" } }, hcloud_volume: { y: {} } };
    const hostKey = stack.resource.tls_private_key["dev-egress-1"];
    hostKey.algoritm = hostKey.algorithm;
    delete hostKey.algorithm;
    stack.provider.tls = [{ proxy: { from_env: true } }];
    expect(stackProblems(stack, schema).sort()).toEqual([
      "data.hcloud_volume.y: the provider has no data source hcloud_volume",
      "provider.tls.proxy: a list block must be a list of objects",
      "resource.hcloud_floating_ip.primary.labels.team: 1 is not a string",
      "resource.hcloud_server.dev-egress-1.ipv4_address: computed by the provider, cannot be set",
      "resource.hcloud_server.dev-egress-1.location: 7 is not a string",
      "resource.hcloud_server.dev-egress-1.public_net: a set block must be a list of objects",
      "resource.hcloud_server.dev-egress-1.server_typ: no such argument or block in the schema",
      "resource.hcloud_server.dev-egress-1.server_type: required, missing",
      "resource.tls_private_key.dev-egress-1.algorithm: required, missing",
      "resource.tls_private_key.dev-egress-1.algoritm: no such argument or block in the schema",
    ]);
  });
});
