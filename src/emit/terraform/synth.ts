import { createRequire } from "node:module";
import { Manifest, type TerraformStack } from "cdktf";
import { invokeAspects } from "cdktf/lib/synthesize/synthesizer.js";
import { Construct } from "constructs";
import type { Model } from "../../resolve/model.js";
import type { Artifact } from "../artifact.js";
import { NatGatewayStack } from "./stack.js";

const requireFromHere = createRequire(import.meta.url);
/** The cdktf release whose output natgw reproduces; it goes into every stack's metadata. */
export const CDKTF_VERSION = (requireFromHere("cdktf/package.json") as { version: string }).version;
/**
 * The serializer cdktf writes cdk.tf.json and manifest.json with (sorted keys,
 * two spaces), taken from cdktf's own bundle so both ways give the same bytes.
 */
const stringify = createRequire(requireFromHere.resolve("cdktf"))("json-stable-stringify") as (
  value: unknown,
  options: { space: number },
) => string;

export const MANIFEST_PATH = Manifest.fileName;

export function stackPath(gateway: string): string {
  return `${Manifest.stacksFolder}/${gateway}/cdk.tf.json`;
}

/**
 * What `cdktf synth` writes for one stack, computed in memory: the same steps as
 * cdktf's StackSynthesizer (prepare, aspects, validations, toTerraform) without
 * its writes, so the emit stage stays pure.
 */
export function synthesizeStack(stack: TerraformStack): string {
  stack.prepareStack();
  invokeAspects(stack);
  stack.runAllValidations();
  return stringify(stack.toTerraform(), { space: 2 });
}

/** manifest.json as cdktf's App writes it for these stacks. */
export function manifestFor(stacks: readonly TerraformStack[]): string {
  const entries = stacks.map((stack) => {
    const name = stack.node.id;
    const annotations = stack.node
      .findAll()
      .flatMap((node) =>
        node.node.metadata
          .filter((entry) => Object.values(annotationTypes).includes(entry.type))
          .map((entry) => ({ constructPath: node.node.path, level: entry.type, message: entry.data })),
      );
    return [
      name,
      {
        name,
        constructPath: stack.node.path,
        workingDirectory: `${Manifest.stacksFolder}/${name}`,
        synthesizedStackPath: stackPath(name),
        stackMetadataPath: `${Manifest.stacksFolder}/${name}/${Manifest.stackMetadataPath}`,
        annotations,
        dependencies: stack.dependencies.map((item) => item.node.path),
      },
    ];
  });
  return stringify({ version: CDKTF_VERSION, stacks: Object.fromEntries(entries) }, { space: 2 });
}

const annotationTypes = { info: "@cdktf/info", warn: "@cdktf/warn", error: "@cdktf/error" };

/**
 * model -> one cdk.tf.json per gateway and cdktf's manifest.json. The root is a
 * plain construct carrying the context an App would set: cdktf's App creates its
 * output directory as soon as it is constructed.
 */
export function emitTerraform(model: Model): Artifact[] {
  const root = new Construct(undefined as unknown as Construct, "");
  root.node.setContext("cdktfVersion", CDKTF_VERSION);
  const stacks = model.gateways.map((gateway) => new NatGatewayStack(root, gateway.name, gateway));
  const artifacts: Artifact[] = stacks.map((stack) => ({
    path: stackPath(stack.node.id),
    role: "terraform",
    gateway: stack.node.id,
    member: null,
    fileMode: "0644",
    content: synthesizeStack(stack),
  }));
  for (const stack of stacks) {
    const errors = stack.node.findAll().flatMap((node) => node.node.metadata.filter((entry) => entry.type === annotationTypes.error));
    if (errors.length > 0) throw new Error(`natgw bug: cdktf reported ${errors.map((entry) => String(entry.data)).join("; ")}`);
  }
  artifacts.push({ path: MANIFEST_PATH, role: "terraform", gateway: null, member: null, fileMode: "0644", content: manifestFor(stacks) });
  return artifacts;
}
