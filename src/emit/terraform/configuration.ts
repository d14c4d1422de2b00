/**
 * Terraform configuration as plain data, in the shape of Terraform's JSON
 * syntax (`*.tf.json`). natgw builds each gateway's stack and module as one of
 * these and writes it as it is; the cdktf constructs (src/cdktf) turn the same
 * data into constructs of a user's app. No cdktf here: `natgw build` must not
 * need it.
 */

/** A Terraform expression as it stands inside a JSON string: `${...}`. */
export type Expression = string;

export interface Lifecycle {
  readonly ignore_changes?: readonly string[];
  readonly replace_triggered_by?: readonly string[];
  readonly prevent_destroy?: boolean;
}

/** The `connection` block of a resource with provisioners (SSH only). */
export interface Connection {
  readonly type: "ssh";
  readonly host: Expression;
  readonly user: string;
  readonly private_key: Expression;
  readonly host_key: Expression;
  readonly bastion_host?: string;
  readonly bastion_user?: string;
  readonly bastion_port?: number;
  readonly bastion_private_key?: Expression;
  readonly bastion_host_key?: string;
}

export type Provisioner =
  | { readonly "remote-exec": { readonly inline: readonly string[] } }
  | { readonly file: { readonly content: string; readonly destination: string } };

/** The meta-arguments natgw uses; every other key of a block is an argument of its type. */
export interface Meta {
  readonly depends_on?: readonly string[];
  readonly lifecycle?: Lifecycle;
  readonly connection?: Connection;
  readonly provisioner?: readonly Provisioner[];
}

export type Body = Readonly<Record<string, unknown>>;

export interface Variable {
  readonly type: string;
  readonly description: string;
  readonly sensitive?: boolean;
  readonly nullable?: boolean;
  /** Present means optional; `null` is a default of its own (unset). */
  readonly default?: unknown;
  readonly validation?: readonly { readonly condition: Expression; readonly error_message: string }[];
}

export interface Output {
  readonly value: unknown;
  readonly description: string;
  readonly sensitive?: boolean;
}

export interface RequiredProvider {
  readonly source: string;
  readonly version: string;
}

export interface Configuration {
  terraform?: {
    required_providers?: Record<string, RequiredProvider>;
    backend?: Record<string, Body>;
  };
  provider?: Record<string, Body[]>;
  variable?: Record<string, Variable>;
  locals?: Record<string, unknown>;
  data?: Record<string, Record<string, Body>>;
  resource?: Record<string, Record<string, Body>>;
  output?: Record<string, Output>;
}

/** `"${address}"`: a reference to another object, written as Terraform reads it in a JSON string. */
export function ref(address: string): Expression {
  return `\${${address}}`;
}

/** Terraform names may not hold `.` or `/`: `0.0.0.0/0` becomes `0_0_0_0_0`. */
export function terraformName(text: string): string {
  const name = text.replace(/[^A-Za-z0-9_-]/g, "_");
  // A Terraform name starts with a letter or an underscore.
  return /^[A-Za-z_]/.test(name) ? name : `_${name}`;
}

/** A resource or data source added to a configuration: its address, and its attributes as references. */
export class Block {
  constructor(
    readonly kind: "resource" | "data",
    readonly type: string,
    readonly name: string,
  ) {}

  /** `hcloud_server.x` or `data.hcloud_network.y`. */
  get address(): string {
    return this.kind === "data" ? `data.${this.type}.${this.name}` : `${this.type}.${this.name}`;
  }

  /** `hcloud_server.x.ipv4_address`, for use inside a larger expression. */
  attributeAddress(attribute: string): string {
    return `${this.address}.${attribute}`;
  }

  /** `"${hcloud_server.x.ipv4_address}"`. */
  attribute(attribute: string): Expression {
    return ref(this.attributeAddress(attribute));
  }
}

/**
 * Collects a configuration. Adding a name twice is a bug (Terraform would
 * refuse the configuration), so it throws.
 */
export class ConfigurationBuilder {
  readonly configuration: Configuration = {};

  resource(type: string, name: string, body: Body, meta: Meta = {}): Block {
    this.put("resource", type, name, { ...body, ...meta });
    return new Block("resource", type, name);
  }

  data(type: string, name: string, body: Body): Block {
    this.put("data", type, name, body);
    return new Block("data", type, name);
  }

  /** Returns `local.<name>`. */
  local(name: string, value: unknown): string {
    const locals = (this.configuration.locals ??= {});
    if (name in locals) throw new Error(`natgw bug: local ${name} added twice`);
    locals[name] = value;
    return `local.${name}`;
  }

  /** Returns `var.<name>`. */
  variable(name: string, variable: Variable): string {
    const variables = (this.configuration.variable ??= {});
    if (name in variables) throw new Error(`natgw bug: variable ${name} added twice`);
    variables[name] = variable;
    return `var.${name}`;
  }

  output(name: string, output: Output): void {
    const outputs = (this.configuration.output ??= {});
    if (name in outputs) throw new Error(`natgw bug: output ${name} added twice`);
    outputs[name] = output;
  }

  provider(name: string, body: Body, requirement: RequiredProvider): void {
    (this.configuration.provider ??= {})[name] = [body];
    this.requireProvider(name, requirement);
  }

  requireProvider(name: string, requirement: RequiredProvider): void {
    const terraform = (this.configuration.terraform ??= {});
    (terraform.required_providers ??= {})[name] = requirement;
  }

  backend(type: string, body: Body): void {
    (this.configuration.terraform ??= {}).backend = { [type]: body };
  }

  private put(kind: "resource" | "data", type: string, name: string, body: Body): void {
    const byType = ((this.configuration[kind] ??= {})[type] ??= {});
    if (name in byType) throw new Error(`natgw bug: ${kind} ${type}.${name} added twice`);
    byType[name] = body;
  }
}

/**
 * The configuration as natgw writes it: keys sorted at every level, two spaces,
 * no trailing newline, as cdktf writes cdk.tf.json, so a stack reads the same
 * whichever way it was made and a diff between builds shows only what changed.
 */
export function configurationText(configuration: Configuration): string {
  return JSON.stringify(sorted(configuration), null, 2);
}

function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sorted((value as Record<string, unknown>)[key])]),
  );
}
