import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Lab, labSkipReason, type LabOptions } from "../../test/lab/lab.js";
import { hasTool } from "../../test/support/tools.js";
import { onCleanup } from "../cleanup.js";
import { BenchError } from "../measure.js";

/** Why the network lab cannot run here (root, its tools, and `extra` ones), or undefined. */
export function labUnavailable(...extra: string[]): string | undefined {
  const missing = extra.filter((tool) => !hasTool(tool));
  if (missing.length > 0) return `needs ${missing.join(", ")}`;
  try {
    return labSkipReason();
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * A lab for `spec` (text, written to the scratch directory), deployed: members
 * booted, pushed and one of them active. It is stopped with the benchmark's
 * other cleanups, however the run ends.
 */
export async function deployedLab(scratch: string, name: string, spec: string, options: Omit<LabOptions, "specs">): Promise<{ lab: Lab; stop: () => void }> {
  const path = join(scratch, `${name}.yaml`);
  writeFileSync(path, spec);
  const lab = await Lab.create({ ...options, specs: [path] });
  const stop = onCleanup(() => lab.stop());
  try {
    const { pushes } = await lab.deploy();
    const failed = pushes.find((push) => push.status !== 0);
    if (failed) throw new BenchError(`${name}: natgw-ctl reconcile failed in the lab:\n${failed.stderr}${failed.stdout}`);
  } catch (error) {
    stop();
    throw error;
  }
  return { lab, stop };
}
