import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { release } from "node:os";
import { join } from "node:path";
import type { Table } from "./table.js";

/** The machine and tool versions the figures were measured with, read at run time. */
export function machineTable(repository: string): Table {
  const cpuinfo = readText("/proc/cpuinfo");
  const meminfo = readText("/proc/meminfo");
  const memoryKiB = Number(/^MemTotal:\s+(\d+) kB/m.exec(meminfo)?.[1] ?? Number.NaN);
  const facts: [string, string][] = [
    ["CPU", /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown"],
    ["CPUs (nproc)", firstLine("nproc", [])],
    ["memory", Number.isNaN(memoryKiB) ? "unknown" : `${(memoryKiB / 1024 / 1024).toFixed(1)} GiB`],
    ["OS", /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readText("/etc/os-release"))?.[1] ?? "unknown"],
    ["kernel", release()],
    ["Node", process.version],
    ["nft", firstLine("nft", ["--version"])],
    ["cdktf-cli", packageVersion(repository, "cdktf-cli")],
    ["terraform (cdktf synth asks its version)", firstLine("terraform", ["version"])],
  ];
  return { title: "Machine", columns: ["", ""], rows: facts };
}

function readText(path: string): string {
  return existsSync(path) ? readFileSync(path, "utf8") : "";
}

/** The first line a command prints, or why there is none. */
function firstLine(command: string, args: readonly string[]): string {
  const result = spawnSync(command, [...args], { encoding: "utf8" });
  if (result.error) return "not installed";
  return result.stdout.split("\n")[0]?.trim() || "unknown";
}

function packageVersion(repository: string, name: string): string {
  const path = join(repository, "node_modules", name, "package.json");
  if (!existsSync(path)) return "not installed";
  return (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version;
}
