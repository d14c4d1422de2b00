import { TerraformDataSource, TerraformLocal, TerraformOutput, TerraformProvider, TerraformResource, TerraformVariable, Token } from "cdktf";
import type { Construct } from "constructs";
import type { Body, Configuration, Lifecycle, Output, RequiredProvider, Variable } from "../emit/terraform/configuration.js";
import { argumentValue, nestedExpression, quotedTemplateBody } from "./hcl.js";

/**
 * natgw's Terraform configuration (src/emit/terraform, plain data) as cdktf
 * elements, so a cdktf app synthesizes exactly what `natgw build` writes. Each
 * element writes its own Terraform JSON, and its own HCL for `cdktf synth
 * --hcl` (hcl.ts): cdktf's generic printer cannot render natgw's values.
 */

type HclArgument = ReturnType<typeof argumentValue>;
type HclValue = HclArgument | { value: Record<string, HclValue> | Record<string, HclValue>[]; isBlock: true; type: "simple" | "list" };

/** References, bare: `depends_on` and the lists of `lifecycle` take no strings. */
function references(addresses: readonly string[]): HclArgument {
  return { value: `[${addresses.join(", ")}]`, isBlock: false, type: "reference", storageClassType: "reference" };
}

/**
 * The arguments of one block in cdktf's HCL form. In a resource or data source
 * a list of objects is a nested block (hcloud_server's `network` and
 * `public_net`; the contract test holds natgw to this for every type it uses);
 * elsewhere (an output's value) it is a value.
 */
function hclArguments(body: Body, nestedBlocks = true): Record<string, HclValue> {
  const result: Record<string, HclValue> = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === "connection" || key === "provisioner") continue;
    if (key === "lifecycle") {
      const { ignore_changes, replace_triggered_by, ...rest } = value as Lifecycle;
      result[key] = {
        value: {
          ...hclArguments(rest, false),
          ...(ignore_changes ? { ignore_changes: references(ignore_changes) } : {}),
          ...(replace_triggered_by ? { replace_triggered_by: references(replace_triggered_by) } : {}),
        },
        isBlock: true,
        type: "simple",
      };
    } else if (key === "depends_on") result[key] = references(value as string[]);
    else if (nestedBlocks && isBlockList(value)) result[key] = { value: value.map((item) => hclArguments(item)), isBlock: true, type: "list" };
    // A cdktf token (a user's value, e.g. a variable's) is cdktf's to render.
    else if (typeof value === "string" && Token.isUnresolved(value)) result[key] = { value, isBlock: false, type: "simple", storageClassType: "string" };
    else result[key] = argumentValue(value);
  }
  return result;
}

function isBlockList(value: unknown): value is Body[] {
  return Array.isArray(value) && value.length > 0 && value.every((item) => item !== null && typeof item === "object" && !Array.isArray(item));
}

/** A block's arguments in cdktf's HCL form, its `connection` and `provisioner` blocks included. */
function hclBody(body: Body): Record<string, unknown> {
  const { connection, provisioner } = body as { connection?: Body; provisioner?: Record<string, Body>[] };
  return {
    ...hclArguments(body),
    ...(connection ? { connection: hclArguments(connection) } : {}),
    ...(provisioner ? { provisioner: provisioner.map((item) => Object.fromEntries(Object.entries(item).map(([type, args]) => [type, hclArguments(args)]))) } : {}),
  };
}

/** `{ resource: { type: { name: body } } }`, with cdktf's metadata of the construct beside the body. */
function fragment(kind: "resource" | "data", type: string, name: string, body: Record<string, unknown>, metadata: unknown): object {
  return { [kind]: { [type]: { [name]: { ...body, "//": metadata } } } };
}

/** A resource of natgw's configuration, under the logical id natgw named it. */
export class ConfiguredResource extends TerraformResource {
  constructor(scope: Construct, id: string, type: string, private readonly body: Body, providerName: string) {
    super(scope, id, { terraformResourceType: type, terraformGeneratorMetadata: { providerName } });
  }

  override toTerraform(): any {
    return fragment("resource", this.terraformResourceType, this.friendlyUniqueId, this.body, this.constructNodeMetadata);
  }

  override toHclTerraform(): any {
    return fragment("resource", this.terraformResourceType, this.friendlyUniqueId, hclBody(this.body), this.constructNodeMetadata);
  }
}

export class ConfiguredDataSource extends TerraformDataSource {
  constructor(scope: Construct, id: string, type: string, private readonly body: Body, providerName: string) {
    super(scope, id, { terraformResourceType: type, terraformGeneratorMetadata: { providerName } });
  }

  override toTerraform(): any {
    return fragment("data", this.terraformResourceType, this.friendlyUniqueId, this.body, this.constructNodeMetadata);
  }

  override toHclTerraform(): any {
    return fragment("data", this.terraformResourceType, this.friendlyUniqueId, hclBody(this.body), this.constructNodeMetadata);
  }
}

/** A provider; cdktf adds it to required_providers from its source and version. */
export class ConfiguredProvider extends TerraformProvider {
  constructor(
    scope: Construct,
    id: string,
    name: string,
    requirement: RequiredProvider,
    private readonly body: Body,
  ) {
    super(scope, id, {
      terraformResourceType: name,
      terraformProviderSource: requirement.source,
      terraformGeneratorMetadata: { providerName: name, providerVersionConstraint: requirement.version },
    });
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return { ...this.body };
  }

  protected override synthesizeHclAttributes(): Record<string, unknown> {
    return hclArguments(this.body);
  }
}

export class ConfiguredLocal extends TerraformLocal {
  constructor(
    scope: Construct,
    id: string,
    private readonly name: string,
    private readonly value: unknown,
  ) {
    super(scope, id, value);
    this.overrideLogicalId(name);
  }

  override toTerraform(): any {
    return { locals: { [this.name]: this.value } };
  }

  /** cdktf quotes a local holding `${` and passes a quoted string through (see hcl.ts). */
  override toHclTerraform(): any {
    let value: string;
    if (typeof this.value === "string") {
      const body = quotedTemplateBody(this.value);
      value = body.includes("${") ? body : `"${body}"`;
    } else {
      value = nestedExpression(this.value);
    }
    return { locals: { [this.name]: { value, isBlock: false, type: "any" } } };
  }
}

export class ConfiguredVariable extends TerraformVariable {
  constructor(
    scope: Construct,
    id: string,
    private readonly name: string,
    private readonly variable: Variable,
  ) {
    super(scope, id, {});
    this.overrideLogicalId(name);
  }

  override toTerraform(): any {
    return { variable: { [this.name]: this.variable } };
  }

  override toHclTerraform(): any {
    const { validation, type, ...rest } = this.variable;
    return {
      variable: {
        [this.name]: {
          // A type is a type expression, never a string.
          type: { value: type, isBlock: false, type: "reference", storageClassType: "reference" },
          ...hclArguments(rest, false),
          ...(validation ? { validation: { value: validation.map((item) => hclArguments(item, false)), isBlock: true, type: "list" } } : {}),
        },
      },
    };
  }
}

export class ConfiguredOutput extends TerraformOutput {
  constructor(
    scope: Construct,
    id: string,
    private readonly name: string,
    private readonly output: Output,
  ) {
    super(scope, id, { value: output.value, staticId: true });
    this.overrideLogicalId(name);
  }

  override toTerraform(): any {
    return { output: { [this.name]: this.output } };
  }

  override toHclTerraform(): any {
    return { output: { [this.name]: hclArguments(this.output as unknown as Body, false) } };
  }
}

/** The provider a resource type belongs to: its prefix, or Terraform itself for terraform_data. */
function providerOf(type: string): string {
  return type === "terraform_data" ? "terraform" : type.split("_")[0]!;
}

/**
 * Adds every element of a configuration to `scope`, under construct ids made
 * unique with `idPrefix`. The backend is left to the caller (a stack has one).
 * Returns the resources and data sources by address.
 */
export function addConfiguration(scope: Construct, configuration: Configuration, idPrefix = ""): Map<string, TerraformResource | TerraformDataSource> {
  const byAddress = new Map<string, TerraformResource | TerraformDataSource>();
  const id = (kind: string, name: string) => `${idPrefix}${kind}_${name}`;
  for (const [name, bodies] of Object.entries(configuration.provider ?? {})) {
    const requirement = configuration.terraform?.required_providers?.[name];
    if (!requirement) throw new Error(`natgw bug: provider ${name} has no requirement`);
    new ConfiguredProvider(scope, id("provider", name), name, requirement, bodies[0]!);
  }
  for (const [name, variable] of Object.entries(configuration.variable ?? {})) new ConfiguredVariable(scope, id("variable", name), name, variable);
  for (const [name, value] of Object.entries(configuration.locals ?? {})) new ConfiguredLocal(scope, id("local", name), name, value);
  for (const [type, byName] of Object.entries(configuration.data ?? {})) {
    for (const [name, body] of Object.entries(byName)) {
      const source = new ConfiguredDataSource(scope, id(`data_${type}`, name), type, body, providerOf(type));
      source.overrideLogicalId(name);
      byAddress.set(`data.${type}.${name}`, source);
    }
  }
  for (const [type, byName] of Object.entries(configuration.resource ?? {})) {
    for (const [name, body] of Object.entries(byName)) {
      const resource = new ConfiguredResource(scope, id(type, name), type, body, providerOf(type));
      resource.overrideLogicalId(name);
      byAddress.set(`${type}.${name}`, resource);
    }
  }
  for (const [name, output] of Object.entries(configuration.output ?? {})) new ConfiguredOutput(scope, id("output", name), name, output);
  return byAddress;
}
