import type { Model } from "../../resolve/model.js";
import type { Artifact } from "../artifact.js";
import { configurationText } from "./configuration.js";
import { memberHosts } from "./gateway.js";
import { moduleConfiguration, stackConfiguration } from "./stack.js";

/** A stack's file: the name cdktf gives it, kept so `cdktf synth` and `natgw build` write the same paths. */
export const STACK_FILE = "cdk.tf.json";

export function stackPath(gateway: string): string {
  return `stacks/${gateway}/${STACK_FILE}`;
}

export function modulePath(gateway: string): string {
  return `modules/${gateway}/main.tf.json`;
}

/** model + the members' host files -> per gateway, its stack and its module as Terraform JSON. */
export function emitTerraform(model: Model, hostArtifacts: readonly Artifact[]): Artifact[] {
  return model.gateways.flatMap((gateway) => {
    const hosts = memberHosts(gateway, hostArtifacts);
    const artifact = (path: string, content: string): Artifact => ({ path, role: "terraform", gateway: gateway.name, member: null, fileMode: "0644", content });
    return [
      artifact(stackPath(gateway.name), configurationText(stackConfiguration(gateway, hosts))),
      artifact(modulePath(gateway.name), configurationText(moduleConfiguration(gateway, hosts))),
    ];
  });
}
