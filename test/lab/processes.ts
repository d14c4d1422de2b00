// Processes and namespaces of the lab: found by pid and by name, killed, removed.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Every lab's namespaces and temporary directory start with this, then the pid of the process that made them. */
export const NAME_PREFIX = "natgw-lab-";

export function namespacePids(namespace: string): number[] {
  return spawnSync("ip", ["netns", "pids", namespace], { encoding: "utf8" })
    .stdout.split("\n")
    .filter(Boolean)
    .map(Number);
}

/** The network namespaces `ip netns` knows, by name. */
export function listedNamespaces(): string[] {
  return spawnSync("ip", ["netns", "list"], { encoding: "utf8" })
    .stdout.split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter(Boolean);
}

export function readCmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return [];
  }
}

export function readComm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Alive and not a zombie waiting for Node to reap it. */
export function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

export function tryKill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

/** Kills what runs in a namespace (until nothing does), then deletes it. */
export function removeNamespace(namespace: string): void {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const pids = namespacePids(namespace);
    if (pids.length === 0) break;
    pids.forEach(tryKill);
    spawnSync("sleep", ["0.05"]);
  }
  spawnSync("ip", ["netns", "del", namespace]);
}

/** Namespaces and files of labs whose process is gone (killed before it could clean up). */
export function removeAbandonedLabs(): void {
  const abandoned = (name: string) => {
    const owner = new RegExp(`^${NAME_PREFIX}(\\d+)-`).exec(name);
    return owner !== null && !alive(Number(owner[1]));
  };
  for (const namespace of listedNamespaces()) if (abandoned(namespace)) removeNamespace(namespace);
  for (const entry of readdirSync(tmpdir())) if (abandoned(entry)) rmSync(join(tmpdir(), entry), { recursive: true, force: true });
}

export { waitFor } from "../support/wait.js";
