import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";
import { Lab, labSkipReason, listedNamespaces, running } from "./lab.js";

/**
 * A lab leaves nothing behind: not when its run is interrupted, and not when its
 * process is killed outright (the next lab removes what it left).
 */
const skip = labSkipReason();

interface Running {
  readonly namespaces: string[];
  readonly pids: number[];
  readonly directory: string;
}

async function startRunningLab(): Promise<{ lab: Running; exited: Promise<number | null>; pid: number }> {
  const child = spawn(process.execPath, ["--import", "tsx", "test/lab/fixtures/running-lab.ts"], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code, signal) => resolve(code ?? (signal ? -1 : null))));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once("line", resolve);
    void exited.then(() => reject(new Error("the lab process ended before it was up")));
  });
  return { lab: JSON.parse(line) as Running, exited, pid: child.pid! };
}

describe.skipIf(skip)("lab teardown", () => {
  it("an interrupted run kills its processes and deletes its namespaces and files", async () => {
    const { lab, exited, pid } = await startRunningLab();
    expect(lab.namespaces).toHaveLength(4);
    expect(listedNamespaces()).toEqual(expect.arrayContaining(lab.namespaces));
    expect(lab.pids.filter(running).length).toBeGreaterThan(0);
    process.kill(pid, "SIGINT");
    await exited;
    expect(listedNamespaces().filter((namespace) => lab.namespaces.includes(namespace))).toEqual([]);
    expect(lab.pids.filter(running)).toEqual([]);
    expect(existsSync(lab.directory)).toBe(false);
  });

  it("what a killed run left behind is removed by the next lab", async () => {
    const { lab, exited, pid } = await startRunningLab();
    process.kill(pid, "SIGKILL");
    await exited;
    expect(listedNamespaces()).toEqual(expect.arrayContaining(lab.namespaces));
    const next = await Lab.create({ specs: ["examples/single.yaml"], workers: {} });
    try {
      expect(listedNamespaces().filter((namespace) => lab.namespaces.includes(namespace))).toEqual([]);
      expect(lab.pids.filter(running)).toEqual([]);
      expect(existsSync(lab.directory)).toBe(false);
    } finally {
      next.stop();
    }
    expect(next.leftovers()).toEqual([]);
  });
});
